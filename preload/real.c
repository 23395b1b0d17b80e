/* real.c - the libc functions behind the interposer, resolved once with dlsym(RTLD_NEXT) (dlsym(3)); logging. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "preload/pl.h"

#define PL_REAL_DEF(ret, name, args) PL_HIDDEN ret (*real_##name) args;
PL_REAL_FUNCS(PL_REAL_DEF)
#undef PL_REAL_DEF

PL_HIDDEN int pl_debug;

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void resolve(void)
{
#define PL_REAL_RESOLVE(ret, name, args) \
	real_##name = (ret (*) args)dlsym(RTLD_NEXT, #name);
	PL_REAL_FUNCS(PL_REAL_RESOLVE)
#undef PL_REAL_RESOLVE
	const char *d = getenv("TAPSOCK_DEBUG");
	pl_debug = d && *d && strcmp(d, "0") != 0;
}

void pl_real_init(void)
{
	pthread_once(&once, resolve);
}

/* One line to stderr with a single write (async-signal-safe enough, no stdio lock). */
void pl_log(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n = snprintf(buf, sizeof(buf), "tapsock[%d]: ", (int)getpid());

	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	if (real_write)
		real_write(2, buf, (size_t)n);
}
