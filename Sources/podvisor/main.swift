// podvisor: the command line entry point. Everything lives in PodvisorCLI.
import PodvisorCLI

PodvisorCommand.main()
