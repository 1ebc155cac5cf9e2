/* What this binary is: the authgate version, the git commit the build was configured from
 * and the versions of the libraries it was compiled against and runs with, for
 * `authgate --version` and the authgate_build_info metric. Process lifetime: static
 * strings, nothing allocated; the first call happens at start-up (not thread-safe before). */
#ifndef AG_VERSION_H
#define AG_VERSION_H

#include <stdio.h>

/* "0.1.0" and the commit ("1a2b3c4d5e6f", "unknown" outside a git checkout). */
const char *ag_version(void);
const char *ag_version_commit(void);

/* `authgate --version`: the version line, the commit, and one line per library with the
 * version built against and the one running. */
void ag_version_print(FILE *f);

/* The authgate_build_info labels: version, commit and the running library versions,
 * as Prometheus label pairs (static storage). */
const char *ag_version_metric_labels(void);

#endif
