// PodvisorSecurity: placeholder until its first file lands.
