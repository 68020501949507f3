// PodvisorCLI: placeholder until its first file lands.
