/* The process_* metrics every Prometheus client library exports (metrics.h), read from
 * /proc/self at scrape time: CPU seconds (user + system), resident and virtual memory,
 * open and maximum descriptors, start time. A file that cannot be read leaves its
 * metrics out rather than reporting a made-up value. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "runtime/metrics.h"

static void one(ag_buf_t *out, const char *name, const char *type, const char *help, double v)
{
    ag_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %.15g\n", name, help, name, type, name, v);
}

/* /proc/stat's btime: boot time in seconds since the epoch. */
static double boot_time(void)
{
    FILE *f = fopen("/proc/stat", "r");
    char line[256];
    double bt = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "btime %lf", &bt) == 1)
            break;
    if (f)
        fclose(f);
    return bt;
}

/* Fields 14/15 (utime, stime), 22 (starttime) in ticks, 23 (vsize) and 24 (rss, pages) of
 * /proc/self/stat, counted after the ")" that ends the command name. */
static void from_stat(ag_buf_t *out)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long long ut, st, start, vsize;
    long long rss;
    if (!p || sscanf(p + 2,
                     "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d "
                     "%*d %*d %llu %llu %lld",
                     &ut, &st, &start, &vsize, &rss) != 5)
        return;
    double hz = (double)sysconf(_SC_CLK_TCK), bt = boot_time();
    one(out, "process_cpu_seconds_total", "counter",
        "Total user and system CPU time spent in seconds.", (double)(ut + st) / hz);
    one(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
        (double)rss * (double)sysconf(_SC_PAGESIZE));
    one(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
        (double)vsize);
    if (bt >= 0)
        one(out, "process_start_time_seconds", "gauge",
            "Start time of the process since unix epoch in seconds.", bt + (double)start / hz);
}

static void fds(ag_buf_t *out)
{
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        int n = 0;
        for (struct dirent *e; (e = readdir(d));)
            n += e->d_name[0] != '.';
        closedir(d);
        one(out, "process_open_fds", "gauge", "Number of open file descriptors.", n - 1);
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        one(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
            (double)rl.rlim_cur);
}

void ag_process_metrics_render(ag_buf_t *out)
{
    from_stat(out);
    fds(out);
}
