/* stats.c - names and formatting of the drop reasons and counters in stats.h. */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "base/stats.h"

const char *const drop_names[DROP__MAX] = {
	[DROP_NONE] = "none",
#define X(name, desc) [DROP_##name] = #name,
	DROP_REASONS(X)
#undef X
};
const char *const drop_descs[DROP__MAX] = {
	[DROP_NONE] = "not dropped",
#define X(name, desc) [DROP_##name] = desc,
	DROP_REASONS(X)
#undef X
};
const char *const counter_names[CNT__MAX] = {
#define X(name, desc) [CNT_##name] = #name,
	COUNTERS(X)
#undef X
};
const char *const counter_descs[CNT__MAX] = {
#define X(name, desc) [CNT_##name] = desc,
	COUNTERS(X)
#undef X
};

static size_t put_line(char *buf, size_t cap, size_t off, const char *prefix,
		       const char *name, uint64_t v)
{
	char low[64];
	size_t i;

	for (i = 0; name[i] && i < sizeof(low) - 1; i++)
		low[i] = (char)tolower((unsigned char)name[i]);
	low[i] = '\0';
	if (off >= cap)
		return off;
	int n = snprintf(buf + off, cap - off, "%s%s %llu\n", prefix, low,
			 (unsigned long long)v);
	if (n < 0)
		return off;
	return (size_t)n >= cap - off ? cap - 1 : off + (size_t)n;
}

size_t stats_format(const struct stats *s, int all, char *buf, size_t cap)
{
	size_t off = 0;

	if (cap == 0)
		return 0;
	buf[0] = '\0';
	for (int i = 0; i < CNT__MAX; i++)
		if (all || s->cnt[i])
			off = put_line(buf, cap, off, "", counter_names[i], s->cnt[i]);
	for (int i = 1; i < DROP__MAX; i++)
		if (all || s->drop[i])
			off = put_line(buf, cap, off, "drop.", drop_names[i], s->drop[i]);
	return off;
}
