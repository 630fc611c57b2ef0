# Sourced by program tests: EAL arguments for a switch without hugepages, PCI
# or shared files, so tests run anywhere and in parallel. $1: a unique prefix
# (it also names the telemetry socket's folder). Add -l for lcores.
test_eal_args() {
  echo "--no-huge --no-shconf -m 256 --no-pci --file-prefix $1 --log-level=warning"
}
