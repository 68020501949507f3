// PodvisorAutoscaler: placeholder until its first file lands.
