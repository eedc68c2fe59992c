/* bench/pgmeasure (bench/pgmeasure.h): clocks, CPU and percentiles for bench/pginsert. */
#include "config.h"

#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench/pgmeasure.h"

uint64_t
pgm_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

double
pgm_self_cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec * 1000.0 + ru.ru_utime.tv_usec / 1000.0 +
	    ru.ru_stime.tv_sec * 1000.0 + ru.ru_stime.tv_usec / 1000.0;
}

/* Fields 14-17 of /proc/PID/stat (utime stime cutime cstime) in clock ticks; false if gone. */
static bool
stat_ticks(const char *pid, long *ppid, unsigned long long t[4])
{
	char path[300], buf[1024], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return (p = strrchr(buf, ')')) != NULL && sscanf(p + 2,
	    "%*c %ld %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu", ppid, &t[0], &t[1],
	    &t[2], &t[3]) == 5;
}

double
pgm_cluster_cpu_ms(long postmaster)
{
	unsigned long long t[4], sum;
	char me[24];
	long ppid;
	struct dirent *d;
	DIR *dir;

	snprintf(me, sizeof(me), "%ld", postmaster);
	if (postmaster <= 0 || !stat_ticks(me, &ppid, t) || (dir = opendir("/proc")) == NULL)
		return -1;
	sum = t[0] + t[1] + t[2] + t[3];
	while ((d = readdir(dir)) != NULL)
		if (d->d_name[0] >= '1' && d->d_name[0] <= '9' && stat_ticks(d->d_name, &ppid, t) &&
		    ppid == postmaster)
			sum += t[0] + t[1];
	closedir(dir);
	return (double)sum * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

int
pgm_cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

double
pgm_pct_ms(const uint32_t *v, size_t n, double q)
{
	size_t k = (size_t)ceil(q / 100.0 * (double)n);

	return n == 0 ? 0 : v[(k < 1 ? 1 : k) - 1] / 1000.0;
}
