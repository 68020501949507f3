// PodvisorEngine: placeholder until its first file lands.
