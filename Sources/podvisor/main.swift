// podvisor: the command line entry point.
