// The `virtlab` executable: all of it lives in VirtLabCLI, so tests can reach the commands.
import VirtLabCLI

VirtLab.main()
