// PodvisorSpec: placeholder until its first file lands.
