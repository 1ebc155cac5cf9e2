/* Accepting on a shared listening socket with back-off, balanced over the workers
 * (acceptor.h). */
#include "net/acceptor.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runtime/log.h"
#include "runtime/metrics.h"

static ag_metric_id m_fd_exhausted = -1, m_no_memory = -1, m_other = -1, m_setup = -1,
                    m_handed = -1;

void ag_acceptor_metrics_init(void)
{
    static const char help[] =
        "Accept failures: fd_exhausted/no_memory/other pause accepting for a back-off, "
        "setup is a connection closed at once because it could not be set up.";
    m_fd_exhausted =
        ag_metrics_counter("authgate_accept_errors_total", "reason=\"fd_exhausted\"", help);
    m_no_memory = ag_metrics_counter("authgate_accept_errors_total", "reason=\"no_memory\"", help);
    m_other = ag_metrics_counter("authgate_accept_errors_total", "reason=\"other\"", help);
    m_setup = ag_metrics_counter("authgate_accept_errors_total", "reason=\"setup\"", help);
    m_handed = ag_metrics_counter("authgate_accept_handed_total", NULL,
                                  "Connections a worker accepted and handed to a less loaded "
                                  "worker.");
}

void ag_acceptor_setup_failed(void)
{
    ag_metrics_inc(m_setup);
}

static void on_readable(uv_poll_t *p, int status, int events);

static void on_resume(uv_timer_t *t)
{
    ag_acceptor_t *a = t->data;
    if (a->open)
        uv_poll_start(&a->poll, UV_READABLE, on_readable);
}

/* Stops polling for a back-off: the listener stays readable while connections wait, and
 * polling it now would only fail the same way again. */
static void pause_accepting(ag_acceptor_t *a, int err)
{
    bool fds = err == EMFILE || err == ENFILE;
    bool mem = err == ENOBUFS || err == ENOMEM;
    ag_metrics_inc(fds ? m_fd_exhausted : mem ? m_no_memory : m_other);
    uv_poll_stop(&a->poll);
    uv_timer_start(&a->pause, on_resume, a->pause_ms, 0);
    uint64_t now = uv_now(a->pause.loop);
    if (a->warned_ms && now - a->warned_ms < AG_ACCEPT_WARN_EVERY_MS) {
        a->suppressed++;
    } else {
        ag_warn("accept on %s failed: %s; pausing accepts for %u ms (%u more pauses since "
                "the last warning)",
                a->name, strerror(err), a->pause_ms, a->suppressed);
        a->warned_ms = now;
        a->suppressed = 0;
    }
    a->pause_ms =
        a->pause_ms * 2 > AG_ACCEPT_PAUSE_MAX_MS ? AG_ACCEPT_PAUSE_MAX_MS : a->pause_ms * 2;
}

/* Errors accept(2) says to treat like EAGAIN: the connection, not the listener, failed. */
static bool transient(int err)
{
    switch (err) {
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
    case EPERM:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
    case ETIMEDOUT:
        return true;
    default:
        return false;
    }
}

/* ---- balance ----------------------------------------------------------------------- */

typedef struct {
    ag_mailbox_msg_t msg; /* first: the mailbox hands it back */
    ag_acceptor_t *to;
    int fd;
} handed_t;

static int load_of(const ag_accept_load_t *l)
{
    return atomic_load_explicit(l->held, memory_order_relaxed) +
           atomic_load_explicit(&l->incoming, memory_order_relaxed);
}

/* The member that should serve the next connection <a> accepted: <a> itself unless an
 * open member holds AG_ACCEPT_SLACK or more connections fewer. */
static ag_acceptor_t *lightest(ag_acceptor_t *a)
{
    ag_acceptor_t *best = a;
    int mine = load_of(a->load), least = mine;
    for (int i = 0; i < a->group->n; i++) {
        ag_acceptor_t *m = a->group->members[i];
        if (m == a || !atomic_load_explicit(&m->open, memory_order_relaxed))
            continue;
        int l = load_of(m->load);
        if (l < least) {
            least = l;
            best = m;
        }
    }
    return mine - least >= AG_ACCEPT_SLACK ? best : a;
}

/* On the receiving worker's loop (or, after the workers ended, at teardown). */
static void on_handed(ag_mailbox_msg_t *msg)
{
    handed_t *h = (handed_t *)msg;
    ag_acceptor_t *to = h->to;
    if (atomic_load_explicit(&to->open, memory_order_relaxed))
        to->cb(to->ud, h->fd); /* counted in its load before the hand-over is taken off */
    else
        close(h->fd); /* it stopped accepting meanwhile (drain, stop) */
    atomic_fetch_sub_explicit(&to->load->incoming, 1, memory_order_relaxed);
    free(h);
}

/* Serves <fd> here or hands it to a less loaded worker. */
static void take(ag_acceptor_t *a, int fd)
{
    ag_acceptor_t *to = a->group ? lightest(a) : a;
    handed_t *h = to != a ? malloc(sizeof *h) : NULL;
    if (!h) {
        a->cb(a->ud, fd);
        return;
    }
    *h = (handed_t){.msg.fn = on_handed, .to = to, .fd = fd};
    atomic_fetch_add_explicit(&to->load->incoming, 1, memory_order_relaxed);
    ag_metrics_inc(m_handed);
    ag_mailbox_post(to->load->inbox, &h->msg);
}

void ag_acceptor_balance(ag_acceptor_t *a, const ag_accept_group_t *group, ag_accept_load_t *load)
{
    a->group = group;
    a->load = load;
}

ag_err ag_accept_load_create(uv_loop_t *loop, const atomic_int *held, ag_accept_load_t **out)
{
    ag_accept_load_t *l = aligned_alloc(64, sizeof *l);
    if (!l)
        return AG_E_NOMEM;
    *l = (ag_accept_load_t){.held = held};
    if (ag_mailbox_create(loop, &l->inbox) != 0) {
        free(l);
        return AG_E_NOMEM;
    }
    *out = l;
    return 0;
}

void ag_accept_load_destroy(ag_accept_load_t *l)
{
    if (!l)
        return;
    ag_mailbox_destroy(l->inbox); /* what is still queued runs now: closed, members shut */
    free(l);
}

/* ---- accepting --------------------------------------------------------------------- */

static void on_readable(uv_poll_t *p, int status, int events)
{
    ag_acceptor_t *a = p->data;
    (void)events;
    if (status < 0) { /* the poll itself failed (EBADF...): never spin on it */
        pause_accepting(a, -status);
        return;
    }
    for (int i = 0; i < AG_ACCEPT_BATCH && a->open; i++) {
        int fd = accept4(a->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            a->pause_ms = AG_ACCEPT_PAUSE_MIN_MS;
            take(a, fd);
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        if (!transient(errno)) {
            pause_accepting(a, errno);
            return;
        }
    }
}

ag_err ag_acceptor_start(ag_acceptor_t *a, uv_loop_t *loop, int listen_fd, const char *name,
                         ag_accept_cb cb, void *ud)
{
    *a = (ag_acceptor_t){.fd = fcntl(listen_fd, F_DUPFD_CLOEXEC, 0),
                         .cb = cb,
                         .ud = ud,
                         .name = name,
                         .pause_ms = AG_ACCEPT_PAUSE_MIN_MS};
    if (a->fd < 0)
        return AG_E_IO;
    if (uv_poll_init_socket(loop, &a->poll, a->fd) != 0) {
        close(a->fd);
        a->fd = -1;
        return AG_E_IO;
    }
    uv_timer_init(loop, &a->pause);
    a->poll.data = a->pause.data = a;
    a->open = true;
    if (uv_poll_start(&a->poll, UV_READABLE, on_readable) != 0) {
        ag_acceptor_close(a);
        return AG_E_IO;
    }
    return 0;
}

void ag_acceptor_close(ag_acceptor_t *a)
{
    if (!a->open)
        return;
    a->open = false;
    if (!uv_is_closing((uv_handle_t *)&a->poll)) /* a loop teardown may have closed them */
        uv_close((uv_handle_t *)&a->poll, NULL); /* leaves the loop's epoll set now */
    if (!uv_is_closing((uv_handle_t *)&a->pause))
        uv_close((uv_handle_t *)&a->pause, NULL);
    close(a->fd);
    a->fd = -1;
}
