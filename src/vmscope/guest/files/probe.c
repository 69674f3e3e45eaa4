/*
 * vmscope-probe: what a workload can reach from inside a platform's guest or sandbox.
 *
 * Built by `vmscope guest build` with `gcc -static -O2`; probe_table.h is generated at build time
 * (VMSCOPE_SWEEP_END and the excluded syscall numbers, see vmscope/guest/probe.py).
 * Every result is one console line: "VMSCOPE-PROBE " + a JSON object with a "type":
 *
 *   ident  boot_id, uname, uids: is this the host's kernel?
 *   view   host visibility: host tokens (file in /tmp, process argv) reachable, device nodes,
 *          CapEff, seccomp mode and filters, NoNewPrivs, uid_map, what the kernel log says
 *   sweep  raw outcome of each syscall number, "first" = number of r[0]; outcomes:
 *            "ok"   returned >= 0          "e<n>"  returned -1 with errno n
 *            "s<n>" child killed by signal n (31 = SIGSYS: a seccomp kill)
 *            "to"   still blocked after the per-call timeout (killed)
 *            "x"    excluded (destructive or meaningless, never called)
 *            "ff"   fork failed, nothing known
 *            "nb"   not run: the whole sweep's time budget (SWEEP_BUDGET_S) was spent
 *   done   end of the probe, sweep bounds and time taken
 *
 * The host classifies the outcomes (vmscope/measure/isolation.py); this program only reports.
 * Every call is made in a forked child with all six arguments -1 (invalid fd, pointer, flags and
 * length), so a filter's SIGSYS or a crash never kills the probe and nothing is changed.
 * With the argument "--sweep-only" only the sweep and done lines are printed (host baseline).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "probe_table.h"

#define PROBE_VERSION 1
#define CHUNK 64
#define CALL_TIMEOUT_S 2
#define SWEEP_BUDGET_S 90 /* the sweep ends well within the host's ready timeout, even if many calls hang */
#define MAX_TOKENS 16
#define TOKEN_FILE_PREFIX "vmscope-token-"
#define SENTINEL_PREFIX "vmscope-sentinel-"

/* Syscalls whose -1 arguments would still do something: called with these arguments instead. */
struct override {
	long nr;
	long args[6];
};
/* msgget(key, IPC_CREAT|...) with flags -1 would create a queue in the IPC namespace: no flags. */
static const struct override OVERRIDES[] = {
	{SYS_msgget, {-1, 0, -1, -1, -1, -1}},
};

static void put_json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* First line of a file, without the newline; "" if unreadable. */
static void read_line(const char *path, char *buf, size_t size)
{
	buf[0] = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0) {
		buf[0] = 0;
		return;
	}
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
}

/* The value after "Key:" in /proc/self/status, whitespace-trimmed; "" if absent. */
static void status_field(const char *status, const char *key, char *out, size_t size)
{
	size_t klen = strlen(key);
	out[0] = 0;
	for (const char *p = status; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, key, klen) == 0 && p[klen] == ':') {
			const char *v = p + klen + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			size_t n = strcspn(v, "\n");
			if (n >= size)
				n = size - 1;
			memcpy(out, v, n);
			out[n] = 0;
			return;
		}
	}
}

static void print_ident(void)
{
	char boot_id[128];
	struct utsname u;
	read_line("/proc/sys/kernel/random/boot_id", boot_id, sizeof boot_id);
	if (uname(&u) != 0)
		memset(&u, 0, sizeof u);
	printf("VMSCOPE-PROBE {\"type\":\"ident\",\"probe\":\"c\",\"version\":%d,\"boot_id\":", PROBE_VERSION);
	put_json_string(boot_id);
	printf(",\"uname\":{\"sysname\":");
	put_json_string(u.sysname);
	printf(",\"release\":");
	put_json_string(u.release);
	printf(",\"version\":");
	put_json_string(u.version);
	printf(",\"machine\":");
	put_json_string(u.machine);
	printf("},\"uid\":%d,\"euid\":%d,\"pid\":%d}\n", (int)getuid(), (int)geteuid(), (int)getpid());
	fflush(stdout);
}

/* Tokens the host left in /tmp (file names vmscope-token-*, content = the token). */
static void print_tmp_tokens(void)
{
	DIR *d = opendir("/tmp");
	int n = 0;
	printf("\"tmp_tokens\":[");
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)) && n < MAX_TOKENS) {
			if (strncmp(e->d_name, TOKEN_FILE_PREFIX, strlen(TOKEN_FILE_PREFIX)) != 0)
				continue;
			char path[512], content[80];
			snprintf(path, sizeof path, "/tmp/%s", e->d_name);
			read_line(path, content, sizeof content);
			printf(n ? "," : "");
			put_json_string(content);
			n++;
		}
		closedir(d);
	}
	printf("]");
}

/* Processes visible in /proc, and the tokens of host sentinel processes (argv[0] vmscope-sentinel-*). */
static void print_processes(void)
{
	DIR *d = opendir("/proc");
	int count = 0, n = 0;
	char found[MAX_TOKENS][80];
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			if (e->d_name[0] < '0' || e->d_name[0] > '9')
				continue;
			count++;
			char path[300], argv0[256];
			snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
			read_line(path, argv0, sizeof argv0); /* stops at the first NUL: argv[0] */
			const char *base = strrchr(argv0, '/') ? strrchr(argv0, '/') + 1 : argv0;
			if (n < MAX_TOKENS && strncmp(base, SENTINEL_PREFIX, strlen(SENTINEL_PREFIX)) == 0) {
				snprintf(found[n], sizeof found[n], "%s", base + strlen(SENTINEL_PREFIX));
				n++;
			}
		}
		closedir(d);
	}
	printf("\"procs_visible\":%d,\"proc_tokens\":[", count);
	for (int i = 0; i < n; i++) {
		printf(i ? "," : "");
		put_json_string(found[i]);
	}
	printf("]");
}

static void print_view(void)
{
	static char status[16384];
	char cap[64], sec[16], filters[16], nnp[16], uid_map[256];
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, status, sizeof status - 1) : -1;
	if (fd >= 0)
		close(fd);
	status[n > 0 ? n : 0] = 0;
	status_field(status, "CapEff", cap, sizeof cap);
	status_field(status, "Seccomp", sec, sizeof sec);
	status_field(status, "Seccomp_filters", filters, sizeof filters);
	status_field(status, "NoNewPrivs", nnp, sizeof nnp);
	read_line("/proc/self/uid_map", uid_map, sizeof uid_map);

	/* The kernel log: a user-space kernel (gVisor's Sentry) writes its own, recognisable one. */
	static char klog[8192];
	int kn = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, klog, sizeof klog - 1);
	klog[kn > 0 ? kn : 0] = 0;

	printf("VMSCOPE-PROBE {\"type\":\"view\",");
	print_tmp_tokens();
	printf(",");
	print_processes();
	printf(",\"dev\":{\"kvm\":%s,\"mem\":%s,\"kmsg\":%s}", access("/dev/kvm", F_OK) == 0 ? "true" : "false",
	       access("/dev/mem", F_OK) == 0 ? "true" : "false", access("/dev/kmsg", F_OK) == 0 ? "true" : "false");
	printf(",\"cap_eff\":");
	put_json_string(cap);
	printf(",\"seccomp\":%s,\"seccomp_filters\":%s,\"no_new_privs\":%s,\"uid_map\":", sec[0] ? sec : "null",
	       filters[0] ? filters : "null", nnp[0] ? nnp : "null");
	put_json_string(uid_map);
	printf(",\"klog_readable\":%s,\"klog_mentions_gvisor\":%s}\n", kn >= 0 ? "true" : "false",
	       strstr(klog, "gVisor") ? "true" : "false");
	fflush(stdout);
}

static int is_excluded(long nr)
{
	for (size_t i = 0; i < sizeof VMSCOPE_EXCLUDED / sizeof VMSCOPE_EXCLUDED[0]; i++)
		if (VMSCOPE_EXCLUDED[i] == nr)
			return 1;
	return 0;
}

static void child_call(long nr)
{
	long a[6] = {-1, -1, -1, -1, -1, -1};
	for (size_t i = 0; i < sizeof OVERRIDES / sizeof OVERRIDES[0]; i++)
		if (OVERRIDES[i].nr == nr)
			memcpy(a, OVERRIDES[i].args, sizeof a);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGSYS, SIG_DFL);
	alarm(CALL_TIMEOUT_S + 1); /* a backstop: the parent kills the child at the timeout anyway */
	long r = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	/* exit status: 0 success, 1..254 errno, 255 an errno too large to encode */
	_exit(r >= 0 ? 0 : (errno > 0 && errno < 255 ? errno : 255));
}

/* Run one call in a child; write its outcome ("ok", "e<n>", "s<n>", "to", "ff") into out. */
static void sweep_one(long nr, char *out, size_t size)
{
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(out, size, "ff");
		return;
	}
	if (pid == 0)
		child_call(nr);
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	struct timespec deadline, now;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += CALL_TIMEOUT_S;
	int status = 0;
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long left_ms = (deadline.tv_sec - now.tv_sec) * 1000 + (deadline.tv_nsec - now.tv_nsec) / 1000000;
		if (w < 0 || left_ms <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			snprintf(out, size, "to");
			return;
		}
		struct timespec wait = {left_ms / 1000, (left_ms % 1000) * 1000000L};
		sigtimedwait(&chld, NULL, &wait);
	}
	if (WIFSIGNALED(status))
		snprintf(out, size, "s%d", WTERMSIG(status));
	else if (WEXITSTATUS(status) == 0)
		snprintf(out, size, "ok");
	else
		snprintf(out, size, "e%d", WEXITSTATUS(status));
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static void sweep(void)
{
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL); /* so sigtimedwait sees the child's exit */
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long first = 0; first < VMSCOPE_SWEEP_END; first += CHUNK) {
		printf("VMSCOPE-PROBE {\"type\":\"sweep\",\"first\":%ld,\"r\":[", first);
		for (long nr = first; nr < first + CHUNK && nr < VMSCOPE_SWEEP_END; nr++) {
			char outcome[16] = "x";
			if (elapsed_ms(&t0) > SWEEP_BUDGET_S * 1000L)
				snprintf(outcome, sizeof outcome, "nb");
			else if (!is_excluded(nr))
				sweep_one(nr, outcome, sizeof outcome);
			printf("%s\"%s\"", nr == first ? "" : ",", outcome);
		}
		printf("]}\n");
		fflush(stdout);
	}
	printf("VMSCOPE-PROBE {\"type\":\"done\",\"probe\":\"c\",\"sweep\":true,\"sweep_end\":%d,"
	       "\"table_source\":",
	       VMSCOPE_SWEEP_END);
	put_json_string(VMSCOPE_TABLE_SOURCE);
	printf(",\"elapsed_ms\":%ld}\n", elapsed_ms(&t0));
	fflush(stdout);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	if (!(argc > 1 && strcmp(argv[1], "--sweep-only") == 0)) {
		print_ident();
		print_view();
	}
	sweep();
	return 0;
}
