/* test_corpus.c - replays every seed of the frame fuzzer through eng_input(), in every build. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
extern unsigned long fuzz_frames_fed;

/* The corpus sits beside the sources (or where TAPSOCK_FUZZ_CORPUS says). __FILE__ is relative to the build root
 * (meson compiles from there), which is two levels above this executable. */
static int corpus_dir(char *out, size_t cap)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char file[PATH_MAX];

	if (getenv("TAPSOCK_FUZZ_CORPUS")) {
		snprintf(out, cap, "%s", getenv("TAPSOCK_FUZZ_CORPUS"));
		return 0;
	}
	snprintf(file, sizeof(file), "%s", __FILE__);
	if (file[0] == '/') {
		snprintf(out, cap, "%s/../fuzz/corpus/frame", dirname(file));
		return 0;
	}
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	char *d = dirname(exe);     /* build/tests/unit */
	snprintf(out, cap, "%s/../../%s", d, file);
	snprintf(out + strlen(out) - strlen("test_corpus.c"), cap - strlen(out) + strlen("test_corpus.c"),
		 "../fuzz/corpus/frame");
	return 0;
}

Test(corpus, every_seed_replays_cleanly)
{
	char dir[PATH_MAX * 2];
	unsigned files = 0;

	cr_assert_eq(corpus_dir(dir, sizeof(dir)), 0);
	DIR *d = opendir(dir);
	cr_assert_not_null(d, "corpus not found at %s", dir);
	struct dirent *e;
	while ((e = readdir(d))) {
		char path[PATH_MAX * 3];
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "rb");
		cr_assert_not_null(f, "%s", path);
		uint8_t *buf = malloc(1 << 16);
		size_t n = fread(buf, 1, 1 << 16, f);
		fclose(f);
		unsigned long before = fuzz_frames_fed;
		/* the fuzz target aborts if the engine sends a malformed frame */
		LLVMFuzzerTestOneInput(buf, n);
		cr_assert_gt(fuzz_frames_fed, before, "%s fed no frame", e->d_name);
		free(buf);
		files++;
	}
	closedir(d);
	cr_assert_geq(files, 40, "only %u seeds in %s", files, dir);
}
