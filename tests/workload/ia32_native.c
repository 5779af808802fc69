/*
 * A 32-bit (i386) program, no libc: open("/etc/hostname"), read, write it to
 * stdout, exit_group(7). Every syscall of a 32-bit process is an ia32 one.
 * Built only where the compiler can target i386 (CMakeLists.txt checks).
 */
static char path[] = "/etc/hostname";
static char buf[256];

static long sys3(long nr, long a, long b, long c)
{
	long ret;

	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory", "cc");
	return ret;
}

void _start(void)
{
	long fd = sys3(5, (long)path, 0, 0);
	long n = fd < 0 ? 0 : sys3(3, fd, (long)buf, sizeof(buf));

	if (n > 0)
		sys3(4, 1, (long)buf, n);
	sys3(252, 7, 0, 0);
	for (;;)
		;
}
