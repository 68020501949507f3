// PodvisorSpawn: placeholder until its first file lands.
