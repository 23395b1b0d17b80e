/* log.c - the log sink: "tapsockd[pid]: level: message" lines, wall-clock stamped. */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"

static enum log_level cur_level = LOG_WARN;
static FILE *sink;

void log_set_level(enum log_level lvl) { cur_level = lvl; }
enum log_level log_get_level(void) { return cur_level; }
void log_set_file(FILE *f) { sink = f; }

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	FILE *out = sink ? sink : stderr;
	char stamp[32] = "";
	struct timespec ts;
	struct tm tm;
	va_list ap;

	if (lvl > cur_level)
		return;
	if (sink && clock_gettime(CLOCK_REALTIME, &ts) == 0 && localtime_r(&ts.tv_sec, &tm))
		strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S ", &tm);
	fprintf(out, "%stapsockd[%d]: %s: ", stamp, (int)getpid(), names[lvl]);
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
	fflush(out);
}
