// PodvisorPod: placeholder until its first file lands.
