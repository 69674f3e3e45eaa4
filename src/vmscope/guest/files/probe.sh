#!/bin/sh
# vmscope-probe, shell fallback (installed when no C compiler was available at `vmscope guest build`).
# Prints the same "ident" and "view" lines as probe.c (see its header for the format) and a "done" line
# with "sweep":false: the syscall sweep needs syscall(2), which a shell cannot make. POSIX sh only.

esc() {
	# JSON string body: backslashes and double quotes escaped, control characters dropped
	printf '%s' "$1" | tr -d '\000-\037' | sed 's/\\/\\\\/g; s/"/\\"/g'
}

field() {
	# value of "Key:" in /proc/self/status (of this shell)
	while read -r key value _; do
		[ "$key" = "$1:" ] && { printf '%s' "$value"; return; }
	done </proc/self/status
}

boot_id=
read -r boot_id </proc/sys/kernel/random/boot_id 2>/dev/null
printf 'VMSCOPE-PROBE {"type":"ident","probe":"sh","version":1,"boot_id":"%s","uname":{"sysname":"%s","release":"%s","version":"%s","machine":"%s"},"uid":%s,"euid":%s,"pid":%s}\n' \
	"$(esc "$boot_id")" "$(esc "$(uname -s)")" "$(esc "$(uname -r)")" "$(esc "$(uname -v)")" \
	"$(esc "$(uname -m)")" "$(id -ru 2>/dev/null || echo -1)" "$(id -u 2>/dev/null || echo -1)" "$$"

tmp_tokens=
for f in /tmp/vmscope-token-*; do
	[ -f "$f" ] || continue
	t=
	read -r t <"$f"
	tmp_tokens="$tmp_tokens${tmp_tokens:+,}\"$(esc "$t")\""
done

count=0
proc_tokens=
for d in /proc/[0-9]*; do
	[ -d "$d" ] || continue
	count=$((count + 1))
	argv0=$(tr '\000' '\n' <"$d/cmdline" 2>/dev/null | head -n 1)
	base=${argv0##*/}
	case $base in
	vmscope-sentinel-*) proc_tokens="$proc_tokens${proc_tokens:+,}\"$(esc "${base#vmscope-sentinel-}")\"" ;;
	esac
done

dev() { if [ -e "$1" ]; then echo true; else echo false; fi; }
num() { if [ -n "$1" ]; then echo "$1"; else echo null; fi; }
uid_map=
read -r uid_map </proc/self/uid_map 2>/dev/null
klog=false
gv=false
if out=$(dmesg 2>/dev/null); then
	klog=true
	case $out in *gVisor*) gv=true ;; esac
fi

printf 'VMSCOPE-PROBE {"type":"view","tmp_tokens":[%s],"procs_visible":%s,"proc_tokens":[%s],"dev":{"kvm":%s,"mem":%s,"kmsg":%s},"cap_eff":"%s","seccomp":%s,"seccomp_filters":%s,"no_new_privs":%s,"uid_map":"%s","klog_readable":%s,"klog_mentions_gvisor":%s}\n' \
	"$tmp_tokens" "$count" "$proc_tokens" "$(dev /dev/kvm)" "$(dev /dev/mem)" "$(dev /dev/kmsg)" \
	"$(esc "$(field CapEff)")" "$(num "$(field Seccomp)")" "$(num "$(field Seccomp_filters)")" \
	"$(num "$(field NoNewPrivs)")" "$(esc "$(echo $uid_map)")" "$klog" "$gv"
echo 'VMSCOPE-PROBE {"type":"done","probe":"sh","sweep":false}'
