# Sourced by the benchmarks: make sure NEED MiB of 2 MiB hugepages are free.
#
#   ensure_hugepages NEED_MB WHAT
#
# Says what it needs (WHAT: for what) and what is free; when short, asks
# tools/setup.sh to reserve more (FLOWTAP_HUGEPAGES). Returns 1, with a
# message, if they still fall short. Run from the source root.
#
#   release_hugepages
#
# Gives back what ensure_hugepages reserved (call it on exit): the machine's
# reservation returns to what it was before the benchmark.
hugepages_field() { awk -v k="$1" '$1 == k":" {print $2}' /proc/meminfo; }

ensure_hugepages() {
	local need_mb=$1 what=$2 free_mb want avail_mb

	free_mb=$(( $(hugepages_field HugePages_Free) * 2 ))
	echo "hugepages: need $need_mb MiB free for $what, $free_mb MiB free"
	[ "$free_mb" -ge "$need_mb" ] && return 0
	want=$(( $(hugepages_field HugePages_Total) + (need_mb - free_mb + 1) / 2 ))
	avail_mb=$(( $(awk '/MemAvailable/ {print $2}' /proc/meminfo) / 1024 ))
	hugepages_before=${hugepages_before:-$(hugepages_field HugePages_Total)}
	echo "hugepages: reserving $want x 2 MiB in total (FLOWTAP_HUGEPAGES=$want tools/setup.sh;" \
		"$avail_mb MiB of memory available)"
	FLOWTAP_HUGEPAGES=$want tools/setup.sh >/dev/null
	free_mb=$(( $(hugepages_field HugePages_Free) * 2 ))
	if [ "$free_mb" -lt "$need_mb" ]; then
		echo "hugepages: still only $free_mb MiB free of $need_mb needed; run with smaller --flows" >&2
		return 1
	fi
}

release_hugepages() {
	[ -n "${hugepages_before:-}" ] || return 0
	echo "$hugepages_before" >/proc/sys/vm/nr_hugepages &&
		echo "hugepages: back to $(hugepages_field HugePages_Total) x 2 MiB reserved"
	hugepages_before=""
}
