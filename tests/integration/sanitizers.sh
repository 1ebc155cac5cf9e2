# Sanitizer report handling for the integration tests (sourced by lib.sh, and by the tests
# that do not use lib.sh). With a sanitizer build of the gateway (build-asan, build-tsan)
# every instrumented process writes its report to its own file $SAN_DIR/sanitizer.<pid>
# instead of stderr, so a report from a command whose output the test captures, discards
# or expects to fail is seen too; the first error stops the process (halt_on_error).
# san_check, called when the test ends, fails the test on any such report. The caller's
# options come first; the log path and halting cannot be overridden. Uninstrumented
# programs (node, python, curl, kubectl) ignore these variables.
san_setup() { # san_setup DIR
    SAN_DIR=$1
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$SAN_DIR/sanitizer:halt_on_error=1"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$SAN_DIR/sanitizer:halt_on_error=1:print_stacktrace=1"
    export TSAN_OPTIONS="${TSAN_OPTIONS:+$TSAN_OPTIONS:}log_path=$SAN_DIR/sanitizer:halt_on_error=1"
}

# san_check [LOG...]: prints the reports and returns 1 when any process left one (its own
# file, or a report that reached one of the LOG files anyway); 0 otherwise.
san_check() {
    local reports
    reports=$({
        find "$SAN_DIR" -maxdepth 1 -name 'sanitizer.*' -size +0c
        [ $# -eq 0 ] || grep -l -E \
            "ERROR: (Address|Leak|Thread)Sanitizer|WARNING: ThreadSanitizer|runtime error:" "$@" || true
    } 2>/dev/null | sort -u | tr '\n' ' ')
    [ -n "$reports" ] || return 0
    echo "FAIL: sanitizer report in: $reports" >&2
    # shellcheck disable=SC2086
    head -n 80 $reports >&2
    return 1
}
