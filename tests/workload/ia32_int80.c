/*
 * A 64-bit program that makes its syscalls through the ia32 entry, `int $0x80`
 * (issue 10's evasion case): open("/etc/hostname"), read, write to stdout, close,
 * then execve("/bin/echo", {"/bin/echo", "ia32-exec", ARG}) where ARG is argv[1]
 * or "ok". The ia32 entry truncates every pointer to 32 bits, so all of them
 * point into static buffers: the binary is static and not PIE (its .data lies
 * below 4 GiB). Exits 3 if execve failed.
 */
#include <stdint.h>

#define IA32_EXIT 1
#define IA32_READ 3
#define IA32_WRITE 4
#define IA32_OPEN 5
#define IA32_CLOSE 6
#define IA32_EXECVE 11

static char path[] = "/etc/hostname";
static char prog[] = "/bin/echo";
static char arg1[] = "ia32-exec";
static char arg2[64] = "ok";
static char buf[256];
static uint32_t argv32[4];
static uint32_t envp32[1];

/* The kernel clears r8-r11 on return from int 0x80 (and may leave flags changed). */
static long int80(long nr, long a, long b, long c)
{
	long ret;

	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "a"(nr), "b"(a), "c"(b), "d"(c)
			 : "r8", "r9", "r10", "r11", "memory", "cc");
	return ret;
}

static uint32_t low(const void *p)
{
	return (uint32_t)(uintptr_t)p;
}

int main(int argc, char **argv)
{
	long fd, n;
	int i;

	if (argc > 1) {
		for (i = 0; argv[1][i] && i < (int)sizeof(arg2) - 1; i++)
			arg2[i] = argv[1][i];
		arg2[i] = 0;
	}
	fd = int80(IA32_OPEN, low(path), 0, 0);
	if (fd < 0)
		int80(IA32_EXIT, 2, 0, 0);
	n = int80(IA32_READ, fd, low(buf), sizeof(buf));
	if (n > 0)
		int80(IA32_WRITE, 1, low(buf), n);
	int80(IA32_CLOSE, fd, 0, 0);
	argv32[0] = low(prog);
	argv32[1] = low(arg1);
	argv32[2] = low(arg2);
	argv32[3] = 0;
	envp32[0] = 0;
	int80(IA32_EXECVE, low(prog), low(argv32), low(envp32));
	int80(IA32_EXIT, 3, 0, 0);
	return 3;
}
