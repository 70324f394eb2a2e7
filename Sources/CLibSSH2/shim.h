#ifndef FLOCKER_CLIBSSH2_SHIM_H
#define FLOCKER_CLIBSSH2_SHIM_H
#include <libssh2.h>
#include <libssh2_publickey.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>
#include <sys/prctl.h>

/* Small helpers for what Swift cannot reach directly (function-like macros, ioctl requests). */

/* A non-blocking, close-on-exec eventfd: the wakeup fd of a session's worker thread. */
static inline int flocker_eventfd(void) {
    return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

/* Bytes in a TCP socket's send queue (not yet sent or not yet acknowledged), or -1. */
static inline int flocker_socket_unsent_bytes(int fd) {
    int n = 0;
    if (ioctl(fd, SIOCOUTQ, &n) != 0) return -1;
    return n;
}

/* Whether an exit-signal has arrived on the channel (without copying its name). */
static inline int flocker_channel_has_exit_signal(LIBSSH2_CHANNEL *channel) {
    size_t length = 0;
    libssh2_channel_get_exit_signal(channel, NULL, &length, NULL, NULL, NULL, NULL);
    return length > 0;
}
/* Names the calling thread (visible in top -H, gdb); at most 15 characters are kept. */
static inline void flocker_set_thread_name(const char *name) {
    prctl(PR_SET_NAME, name, 0, 0, 0);
}
#endif
