// PodvisorManifest: placeholder until its first file lands.
