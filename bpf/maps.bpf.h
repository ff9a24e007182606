/* Every map the sensor uses, with why it exists. */
#ifndef REIN_MAPS_BPF_H
#define REIN_MAPS_BPF_H

#include "rein/abi/events.h"

/* Control records to user space: everything but payload. One MPSC ring keeps a single
 * global order, so a process's exec always precedes its file events and its exit. Records
 * here are small; payload floods go to data_events and cannot crowd them out. */
struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 4 * 1024 * 1024);
} events SEC(".maps");

/* Payload records (REIN_REC_DATA, REIN_REC_BIND). Size set by user space (--ring-mib). */
struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 16 * 1024 * 1024);
} data_events SEC(".maps");

/* Fast path filter: one bit per tgid. Untracked processes cost one load and a bit test
 * in every hook (no helper call). Details of tracked processes live in `tracked`. */
__u64 tracked_bits[REIN_MAX_PID / 64];

/* Untracked processes that just connected a TCP socket (cfg.discover_connect): their first
 * socket write is looked at for an LLM API's TLS server name or a plain LLM request. Bit
 * cleared at that write, so other processes and other writes pay one bit test. */
__u64 cand_bits[REIN_MAX_PID / 64];

/* Runtime configuration, written by user space through the mmaped .bss. */
struct rein_config cfg;

/* tgid -> agent membership for tracked processes; inherited at fork. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);
  __type(key, __u32);
  __type(value, struct rein_tracked);
} tracked SEC(".maps");

/* Raised after every change to `tracked`, by the kernel programs (tracked_changed) and by
 * user space (BpfSensor::track/untrack): agent_of's per-CPU answer is good only while this
 * is what it was when the answer was looked up. Starts at 1 so an empty cache never
 * matches. */
__u64 tracked_gen = 1;

/* agent_of's last answer on this CPU: every record's header names the agent, and the hash
 * lookup it took was about a twentieth of a tracked open/write/close. */
struct agent_cache {
  __u64 gen;        /* tracked_gen read before the lookup; 0 while being written */
  __u64 tgid_agent; /* tgid << 32 | agent, one store */
};
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct agent_cache);
} agent_cache_map SEC(".maps");

/* Selectors evaluated at exec: FNV-1a 64 of an exe basename or full path -> selector index. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, __u64);
  __type(value, __u32);
} sel_exe SEC(".maps");

/* cgroup v2 id -> selector index; a process in that cgroup or below it matches at exec. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, __u64);
  __type(value, __u32);
} sel_cgroup SEC(".maps");

/* Syscall arguments stashed at sys_enter until sys_exit gives the result, one slot per
 * thread id modulo the array size. An array lookup is inlined by the verifier and needs no
 * insert or delete, unlike a hash. On hosts whose pid_max is above the array size two
 * threads can share a slot: while one's call is in flight, the other's goes to its own
 * task storage (pending_overflow) instead of overwriting it. */
#define REIN_PENDING_SLOTS 65536
struct pending_call {
  __u64 args[6];
  __u32 nr;
  __u32 tid; /* owner of the slot; 0 = free */
};
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, REIN_PENDING_SLOTS);
  __type(key, __u32);
  __type(value, struct pending_call);
} pending SEC(".maps");

/* A thread's call whose `pending` slot another thread's call held at sys_enter. */
struct {
  __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int);
  __type(value, struct pending_call);
} pending_overflow SEC(".maps");

/* Calls parked in pending_overflow and not taken back yet: while 0, sys_exit does not look
 * there (a thread killed inside its call leaves it above 0 until the thread's exit). */
__u64 pending_overflow_live;

/* Open file descriptions (struct file *) of regular files a tracked process opened for
 * writing -> bytes written through any descriptor that refers to them (dup2'ed shell
 * redirections, inherited fds). Reported once, at the last close or when the opener exits,
 * instead of one record per write().
 *
 * An array probed at REIN_OPEN_PROBES slots from a hash of the file pointer, not a hash
 * map: every tracked open inserts and every close deletes, and a hash map's insert and
 * delete (bucket lock, free list) were the largest single cost of a tracked open/write/close
 * loop after the path walk. Array lookups are inlined by the JIT; a slot is claimed with a
 * compare-and-swap of `fid`. */
#define REIN_OPEN_SLOTS 16384
#define REIN_OPEN_PROBES 4
#define REIN_OPEN_BUSY 1 /* low bit of a fid being filled in: file pointers are aligned */
struct open_file_val {
  __u64 fid;  /* the struct file; 0 = free slot */
  __u64 bytes;
  __u32 writes;
  __u32 tgid; /* the opener */
  __s32 fd;   /* the descriptor it opened */
  __u32 _pad;
};
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, REIN_OPEN_SLOTS);
  __type(key, __u32);
  __type(value, struct open_file_val);
} open_files SEC(".maps");

/* Processes that may own open_files entries (set when one claims a slot, cleared at its
 * exit): the exit's sweep of the array is skipped for the many processes (`ls`, `grep`,
 * `git status`) that never opened a file for writing. */
__u64 open_owner_bits[REIN_MAX_PID / 64];

/* Socket cookie -> owner for UDP sockets of tracked processes that talk to port 53, so
 * the cgroup skb hooks (which may run in softirq, without the owner as current) can copy
 * DNS messages of tracked processes only. */
struct dns_owner {
  __u32 tgid;
  __u32 agent;
  __u32 uid;
  __u32 _pad;
};
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 4096);
  __type(key, __u64);
  __type(value, struct dns_owner);
} dns_socks SEC(".maps");

/* Streams of decoded traffic: (tgid, SSL* / gnutls session / socket file) -> next byte
 * offset per direction and the socket fd once learned. LRU: an idle connection that falls
 * out restarts at offset 0, which user space sees as a new stream. */
struct conn_key {
  __u32 tgid;
  __u32 _pad;
  __u64 conn;
};
#define REIN_PLAIN_UNKNOWN 0
#define REIN_PLAIN_HTTP 1
#define REIN_PLAIN_OTHER 2
struct conn_val {
  __u64 off[2];
  __s32 fd;
  __u32 plain_state; /* sockets only: is this plain HTTP? decided on the first write */
  __u16 peer_family; /* read from the socket once its fd is known */
  __u16 peer_port;
  __u32 cipher_out; /* TLS sockets: bytes sent after the ClientHello (saturating) */
  __u8 peer_addr[16];
  __u32 sock_ino;  /* inode of the socket (the one a TLS object last used), 0 unknown */
  __u32 restarted; /* reused for a new connection: the next chunk says REIN_DF_NEW_CONN */
};
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 16384);
  __type(key, struct conn_key);
  __type(value, struct conn_val);
} conns SEC(".maps");

/* A TLS library call in flight on a thread: arguments from the uprobe, used by the
 * uretprobe, plus the socket fd seen by the syscall the library makes meanwhile. */
struct tls_call {
  __u64 conn;
  __u64 buf;
  __u64 ex_len_ptr; /* SSL_*_ex: where the library stores the byte count */
  __u32 tid;        /* owner; 0 = free */
  __s32 fd;
  __u32 cookie;     /* source | dir << 8 | is_ex << 16, from the attach cookie */
  __u32 _pad;
};
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, REIN_PENDING_SLOTS);
  __type(key, __u32);
  __type(value, struct tls_call);
} tls_calls SEC(".maps");

/* Per thread: the socket it last read from. Bun's event loop recv()s just before SSL_read on
 * the same thread (its BIOs hold no fd), and rustls decrypts inside the buffer of the read
 * before; both use this to name the socket of the plaintext. */
struct thread_sock {
  __u32 tid;
  __s32 fd;
  __u64 buf;
  __u64 len;
};
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, REIN_PENDING_SLOTS);
  __type(key, __u32);
  __type(value, struct thread_sock);
} thread_socks SEC(".maps");

/* LLM API host names for discovery by TLS server name: FNV-1a 64 of the lower-cased name ->
 * 1 (this exact name) or 2 (any name below it: "*.openai.azure.com"). */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, __u64);
  __type(value, __u32);
} llm_sni SEC(".maps");

/* rustls: the first record a thread sealed under a key whose socket is not known yet. The
 * write that sends it (buffer == out - 5, the record header) binds key -> socket. */
struct seal_wait {
  __u32 tid;
  __u32 _pad;
  __u64 out;
  __u64 key;
  __u64 ts;
};
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, REIN_PENDING_SLOTS);
  __type(key, __u32);
  __type(value, struct seal_wait);
} seal_waits SEC(".maps");

/* rustls: (tgid, sealing key) -> socket file, once bound. */
struct key_sock_key {
  __u32 tgid;
  __u32 _pad;
  __u64 key;
};
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 4096);
  __type(key, struct key_sock_key);
  __type(value, __u64);
} key_socks SEC(".maps");

/* rustls: a record being opened (decrypted in place) on a thread, from entry to return. */
struct open_call {
  __u32 tid;
  __u32 _pad;
  __u64 in;
  __u64 out;
  __u64 len;
  __u64 key;
};
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, REIN_PENDING_SLOTS);
  __type(key, __u32);
  __type(value, struct open_call);
} open_calls SEC(".maps");

/* Go: (*tls.Conn).Read/Write in flight, keyed by goroutine (the g pointer in r14): a
 * goroutine may return on another thread than it entered on. */
struct go_call {
  __u64 conn;
  __u64 buf;
  __u32 dir;
  __u32 tgid;
  __u32 flags; /* REIN_DF_LATE, decided at entry: the write inside the call sends ciphertext */
  __u32 _pad;
};
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 16384);
  __type(key, __u64);
  __type(value, struct go_call);
} go_calls SEC(".maps");

/* Per-CPU counters of records and drops by reason (enum rein_counter). */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, REIN_CTR_MAX);
  __type(key, __u32);
  __type(value, __u64);
} counters SEC(".maps");

/* Per-CPU scratch: records are assembled here, then copied to the ring sized to the data
 * (the BPF stack is only 512 bytes). */
#define REIN_WALK_SLACK 256
/* State of one dentry walk. Kept in the map value rather than on the stack so the
 * verifier sees `pos` as an opaque scalar and the bpf_loop body converges at once. */
struct walk_state {
  void *dentry;
  void *vfsmnt;
  void *mnt;
  void *root_dentry;
  void *root_mnt;
  void *mnt_root; /* root dentry of the current mount, reread only at a crossing */
  __s64 pos; /* start of what has been written so far */
  __u32 done;
  __u32 truncated;
};
/* A payload copy in progress (chunks are written by a bpf_loop body). */
struct data_state {
  __u64 conn;
  __u64 src;
  __u64 total;  /* bytes the call moved */
  __u64 done;   /* bytes handled so far */
  __u64 offset; /* stream offset of the call's first byte */
  __s32 fd;
  __u8 dir;
  __u8 source;
  __u16 peer_family;
  __u16 peer_port;
  __u16 flags; /* REIN_DF_* */
  __u32 agent;  /* of the calling process, looked up once per call */
  __u8 peer_addr[16];
};
/* DNS answer parsing state (host-name rules), in per-CPU memory for bpf_loop bodies. */
struct dns_parse {
  __u32 off;       /* next byte in the payload */
  __u32 end;       /* payload length */
  __u32 remaining; /* bytes left in the current label; 0 = a length byte is next */
  __u32 done;
  __u32 labels;
  __u32 _pad;
  __u64 hash;      /* FNV-1a 64 of the lower-cased, dot-joined question name */
};
/* Script-path matching at exec (cfg.script_selectors), in per-CPU memory for loop bodies. */
struct script_scan {
  __u32 len;        /* bytes of argv in ustr */
  __u32 argi;       /* index of the argument being scanned */
  __u32 arg_start;
  __u32 target;     /* 1 while scanning the script argument */
  __u32 done;
  __u32 prog;       /* bytes of "node_modules/" matched so far */
  __u32 base_start; /* after the last '/' */
  __u32 pkg_start;  /* after the last "node_modules/", 0 = none */
  __u32 pkg_end;
  __u32 pkg_slash;  /* slashes still allowed inside the package name (1 for @scope/name) */
  __u32 end;        /* end of the script argument */
  __u32 lo, hi;     /* range hashed by hash_range */
  __u32 _pad;
  __u64 hash;
};
/* TLS ClientHello server-name parsing (discovery), in per-CPU memory for loop bodies. */
struct sni_scan {
  __u32 off;
  __u32 end;
  __u32 name_off;
  __u32 name_len;
  __u32 dot;        /* position after the first '.' of the name, 0 = none yet */
  __u32 _pad;
  __u64 full;
  __u64 suffix;
};
struct scratch {
  struct walk_state ws;
  struct script_scan ss;
  struct sni_scan sn;
  struct dns_parse dp;
  struct data_state ds;
  char walk[REIN_PATH_MAX + REIN_WALK_SLACK]; /* dentry walk writes backwards from the end */
  char ustr[REIN_PATH_MAX];                   /* a path string from the caller */
  /* record offsets are masked to 16 KiB; a path of up to REIN_PATH_MAX may start there */
  __u8 rec[16384 + REIN_PATH_MAX + REIN_WALK_SLACK];
};
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct scratch);
} scratch_map SEC(".maps");

/* Processes that share one file table (clone(CLONE_FILES)) or one address space
 * (clone(CLONE_VM)) without CLONE_THREAD, by the table's or the mm's address: a deny kills
 * every one of them, since any of them can use a descriptor the denied call left in the
 * table, or read and write the memory the denied call filled. Read only when a deny is
 * enforced. LRU: an entry whose processes are gone ages out; a reused address is checked
 * against each task. */
#define REIN_SHARERS 8
struct sharers {
  __u32 tgid[REIN_SHARERS];
};
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 4096);
  __type(key, __u64);
  __type(value, struct sharers);
} sharers SEC(".maps");

#endif
