// podvisor: the command line entry point. Everything lives in PodvisorCLI.
import Glibc
import PodvisorCLI

// The lifecycle commands clients call per container take the fast path; everything else, and every
// diagnostic, goes through ArgumentParser.
if let status = FastPath.run(Array(CommandLine.arguments.dropFirst())) {
    exit(status)
}
PodvisorCommand.main()
