/* log.h - leveled logging to a sink the daemon chooses (stderr or a file).
 *
 * The core may log; it never timestamps (the sink does, outside the core). Tests
 * leave the level at LOG_WARN or set it with log_set_level(). */
#ifndef TSK_BASE_LOG_H
#define TSK_BASE_LOG_H

#include <stdio.h>

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
void log_set_file(FILE *f);          /* NULL: stderr */
void log_msg(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_err(...)   log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) \
	do { if (log_get_level() >= LOG_DEBUG) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
