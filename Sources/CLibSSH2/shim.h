#ifndef FLOCKER_CLIBSSH2_SHIM_H
#define FLOCKER_CLIBSSH2_SHIM_H
#include <libssh2.h>
#include <libssh2_publickey.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
/* libssh2's socket reader (LIBSSH2_CALLBACK_RECV), with two additions:
   - a count of the bytes taken from the socket. libssh2 reads the socket inside most calls and queues what it
     finds for every channel, so a call made for one channel can consume the data, EOF or CLOSE another
     channel is waiting for; the count tells the worker that happened, so it does not go to sleep in poll()
     on a socket that was already drained;
   - a read-ahead buffer: libssh2 asks for small pieces, and one large recv() serves several of them.
     It returns -EAGAIN only when the buffer is empty and the socket has nothing, so after libssh2 reports
     EAGAIN the socket's readiness is again the truth.
   The session's abstract pointer (libssh2_session_init_ex) points at the flocker_recv_state.
   Same return convention as libssh2's own reader: bytes, 0 at end of stream, or -errno. */
typedef struct {
    uint64_t received;      /* bytes taken from the socket so far */
    unsigned char *buffer;  /* read-ahead buffer (capacity bytes), or NULL */
    size_t capacity, start, end;
    void *free_blocks;      /* allocator cache: a list of free packet-sized blocks (see below) */
    size_t free_count;
} flocker_recv_state;

/* Acknowledges what has arrived now rather than up to 40 ms later (TCP_QUICKACK; Linux turns it off again by
   itself, so it is set each time). Called before waiting for the server: sshd leaves Nagle's algorithm on for
   sessions without a terminal, so a small packet it writes while its previous one is unacknowledged waits for
   our ACK, and Linux delays that ACK while we have nothing to send, which we have not, since we are waiting
   for that very packet. Seen once per connection between authentication and the first channel (45 ms of a
   145 ms no-op deploy at 2 nodes), and after small exchanges. */
static inline void flocker_ack_now(int fd) {
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
}

static inline ssize_t flocker_counting_recv(libssh2_socket_t sock, void *buffer, size_t length, int flags,
                                            void **abstract) {
    flocker_recv_state *state = (abstract && *abstract) ? (flocker_recv_state *)*abstract : NULL;
    if (state && state->buffer) {
        if (state->start == state->end && length < state->capacity / 2) {
            ssize_t n = recv(sock, state->buffer, state->capacity, flags);
            if (n < 0) {
                if (errno == ENOENT || errno == EWOULDBLOCK) return -EAGAIN;
                return -errno;
            }
            if (n == 0) return 0;
            state->received += (uint64_t)n;
            state->start = 0;
            state->end = (size_t)n;
        }
        if (state->start < state->end) {
            size_t n = state->end - state->start;
            if (n > length) n = length;
            memcpy(buffer, state->buffer + state->start, n);
            state->start += n;
            return (ssize_t)n;
        }
    }
    ssize_t rc = recv(sock, buffer, length, flags);
    if (rc < 0) {
        if (errno == ENOENT || errno == EWOULDBLOCK) return -EAGAIN;
        return -errno;
    }
    if (rc > 0 && state) state->received += (uint64_t)rc;
    return rc;
}

static inline void flocker_install_counting_recv(LIBSSH2_SESSION *session) {
    libssh2_session_callback_set(session, LIBSSH2_CALLBACK_RECV, (void *)flocker_counting_recv);
}

/* The session's allocator (libssh2_session_init_ex). libssh2 mallocs a buffer for every SSH packet it
   receives (up to ~35000 bytes) and frees it once the data is read; at hundreds of MiB/s, glibc keeps
   giving that memory back to the kernel and faulting it in again. Packet-sized requests are therefore
   served from a small per-session cache of fixed 40 KiB blocks (at most FLOCKER_BLOCK_CACHE of them);
   everything else goes to malloc. Each block carries a 16-byte header with its size class. Used only by
   the session's worker thread, like the session itself. */
#define FLOCKER_BLOCK_SIZE 40960
#define FLOCKER_BLOCK_MIN 8192
#define FLOCKER_BLOCK_CACHE 64
#define FLOCKER_HEADER 16

static inline void *flocker_alloc(size_t count, void **abstract) {
    flocker_recv_state *state = (abstract && *abstract) ? (flocker_recv_state *)*abstract : NULL;
    size_t *header;
    if (state && count >= FLOCKER_BLOCK_MIN && count <= FLOCKER_BLOCK_SIZE) {
        if (state->free_blocks) {
            header = (size_t *)state->free_blocks;
            state->free_blocks = *(void **)(header + 2);
            state->free_count--;
        } else {
            header = (size_t *)malloc(FLOCKER_HEADER + FLOCKER_BLOCK_SIZE);
            if (!header) return NULL;
        }
        header[0] = FLOCKER_BLOCK_SIZE;
        header[1] = 1;  /* cached class */
        return (unsigned char *)header + FLOCKER_HEADER;
    }
    header = (size_t *)malloc(FLOCKER_HEADER + (count ? count : 1));
    if (!header) return NULL;
    header[0] = count;
    header[1] = 0;
    return (unsigned char *)header + FLOCKER_HEADER;
}

static inline void flocker_free(void *ptr, void **abstract) {
    if (!ptr) return;
    flocker_recv_state *state = (abstract && *abstract) ? (flocker_recv_state *)*abstract : NULL;
    size_t *header = (size_t *)((unsigned char *)ptr - FLOCKER_HEADER);
    if (header[1] == 1 && state && state->free_count < FLOCKER_BLOCK_CACHE) {
        *(void **)(header + 2) = state->free_blocks;
        state->free_blocks = header;
        state->free_count++;
        return;
    }
    free(header);
}

static inline void *flocker_realloc(void *ptr, size_t count, void **abstract) {
    if (!ptr) return flocker_alloc(count, abstract);
    size_t *header = (size_t *)((unsigned char *)ptr - FLOCKER_HEADER);
    if (count <= header[0]) return ptr;
    void *fresh = flocker_alloc(count, abstract);
    if (!fresh) return NULL;
    memcpy(fresh, ptr, header[0]);
    flocker_free(ptr, abstract);
    return fresh;
}

/* A session whose abstract pointer is `state`, using the allocator above. */
static inline LIBSSH2_SESSION *flocker_session_init(flocker_recv_state *state) {
    return libssh2_session_init_ex(flocker_alloc, flocker_free, flocker_realloc, state);
}

/* Frees the cached blocks (after libssh2_session_free). */
static inline void flocker_release_block_cache(flocker_recv_state *state) {
    while (state->free_blocks) {
        void *next = *(void **)((size_t *)state->free_blocks + 2);
        free(state->free_blocks);
        state->free_blocks = next;
    }
    state->free_count = 0;
}

/* Names the calling thread (visible in top -H, gdb); at most 15 characters are kept. */
static inline void flocker_set_thread_name(const char *name) {
    prctl(PR_SET_NAME, name, 0, 0, 0);
}
#endif
