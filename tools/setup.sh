#!/usr/bin/env bash
# Install what flowtap's build, tests and demo need on Debian 12, and reserve
# hugepages when possible. Idempotent: installs only what is missing.
#
#   tools/setup.sh            packages + hugepages
#   FLOWTAP_HUGEPAGES=0 ...   leave hugepages alone (flowtap then runs --no-huge)
#   FLOWTAP_HUGEPAGES=2048    reserve more 2 MiB pages (benchmarks with 10M flows)
set -euo pipefail

PACKAGES=(
	# build
	gcc libc6-dev pkg-config meson ninja-build git
	dpdk dpdk-dev libdpdk-dev libhyperscan-dev libbpf-dev bpftool libpcap-dev
	libelf-dev zlib1g-dev
	# tests: unit, sanitizers and fuzzing (clang's ASan/libFuzzer runtime)
	libcmocka-dev clang llvm libclang-rt-14-dev
	# tests: independent tools and real peers
	tshark wireshark-common tcpdump tcpreplay nfdump libfixbuf-tools jq python3
	iproute2 procps util-linux
)

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null; then sudo="sudo"; else
		echo "setup: not root and no sudo: run tools/setup.sh as root" >&2; exit 1
	fi
fi

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "setup: installing ${missing[*]}"
	# tshark asks whether non-root users may capture; answer for it.
	echo 'wireshark-common wireshark-common/install-setuid boolean false' |
		$sudo debconf-set-selections
	$sudo apt-get update -qq
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null
	echo "setup: packages installed"
else
	echo "setup: all packages present"
fi

# Hugepages: DPDK runs faster on them; flowtap falls back to --no-huge without.
want=${FLOWTAP_HUGEPAGES:-512}
if [ "$want" -gt 0 ]; then
	have=$(cat /proc/sys/vm/nr_hugepages)
	if [ "$have" -lt "$want" ]; then
		avail_kb=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
		if [ -n "$sudo" ] && ! sudo -n true 2>/dev/null; then
			echo "setup: hugepages: need root to reserve them; flowtap will run with --no-huge"
		elif [ $(( (want - have) * 2048 * 2 )) -gt "$avail_kb" ]; then
			echo "setup: hugepages: not enough free memory for $want pages; left at $have"
		else
			echo "$want" | $sudo tee /proc/sys/vm/nr_hugepages >/dev/null || true
			echo "setup: hugepages: $(cat /proc/sys/vm/nr_hugepages) x 2 MiB reserved"
		fi
	fi
	if ! grep -q ' hugetlbfs ' /proc/mounts; then
		$sudo mkdir -p /dev/hugepages
		$sudo mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null ||
			echo "setup: hugepages: cannot mount hugetlbfs; flowtap will run with --no-huge"
	fi
fi
