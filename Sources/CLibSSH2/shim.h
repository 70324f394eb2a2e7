#ifndef FLOCKER_CLIBSSH2_SHIM_H
#define FLOCKER_CLIBSSH2_SHIM_H
#include <libssh2.h>
#include <libssh2_publickey.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <errno.h>
#include <stdint.h>

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
/* libssh2's socket reader, plus a count of the bytes it took from the socket. libssh2 reads the socket
   inside most calls and queues what it finds for every channel, so a call made for one channel can consume
   the data, EOF or CLOSE another channel is waiting for; the count tells the worker that happened, so it
   does not go to sleep in poll() on a socket that was already drained. The session's abstract pointer
   (libssh2_session_init_ex) points at the uint64_t counter. Same return convention as libssh2's own. */
static inline ssize_t flocker_counting_recv(libssh2_socket_t sock, void *buffer, size_t length, int flags,
                                            void **abstract) {
    ssize_t rc = recv(sock, buffer, length, flags);
    if (rc < 0) {
        if (errno == ENOENT || errno == EWOULDBLOCK) return -EAGAIN;
        return -errno;
    }
    if (rc > 0 && abstract && *abstract) *(uint64_t *)(*abstract) += (uint64_t)rc;
    return rc;
}

static inline void flocker_install_counting_recv(LIBSSH2_SESSION *session) {
    libssh2_session_callback_set(session, LIBSSH2_CALLBACK_RECV, (void *)flocker_counting_recv);
}

/* Names the calling thread (visible in top -H, gdb); at most 15 characters are kept. */
static inline void flocker_set_thread_name(const char *name) {
    prctl(PR_SET_NAME, name, 0, 0, 0);
}
#endif
