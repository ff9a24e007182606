/* Kernel/user ABI: every record the BPF programs put on the ring buffer.
 *
 * Included by bpf/ (with vmlinux.h types) and by userspace/ (with <stdint.h>). Fixed-width
 * types only, every struct padded explicitly to a multiple of 8 so both compilers agree;
 * userspace/decode checks sizes and offsets with static_assert. Variable-length tails
 * (paths, argv, payload) follow the fixed part; their lengths are in the fixed part and
 * records are sized to the data. Bump REIN_ABI_VERSION on any change. */
#ifndef REIN_ABI_EVENTS_H
#define REIN_ABI_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define REIN_ABI_VERSION 8

/* Bounds on variable tails. Paths are assembled in a per-CPU buffer of REIN_PATH_MAX;
 * longer ones keep their tail (the leaf end) and set a *_TRUNCATED flag. */
#define REIN_PATH_MAX 4096
#define REIN_ARGS_MAX 4096
#define REIN_DNS_MAX 512
#define REIN_COMM_LEN 16
#define REIN_MAX_PID 4194304 /* PID_MAX_LIMIT on 64-bit */

enum rein_record_kind {
  REIN_REC_EXEC = 1,
  REIN_REC_FORK = 2,
  REIN_REC_EXIT = 3,
  REIN_REC_FILE = 4,
  REIN_REC_CONNECT = 5,
  REIN_REC_DNS = 6,
  REIN_REC_FILE_OPEN = 7,  /* a tracked process opened a file for writing: fd -> path */
  REIN_REC_FILE_CLOSE = 8, /* ...and closed it: bytes written through that fd */
  REIN_REC_DATA = 9,       /* plaintext of a TLS call or of a plain HTTP socket */
  REIN_REC_POLICY_NET = 11, /* a network rule matched in a cgroup hook */
  REIN_REC_BIND = 12,       /* rustls: data sent under a cipher key went out on this socket */
  REIN_REC_TLS_LIB = 13,    /* a tracked process opened a TLS library: hook it there */
  REIN_REC_HOLD = 14,       /* a held (paused) process was resumed by someone else, or ran again */
  REIN_REC_CONNECT_OUTCOME = 15, /* a non-blocking connect (EINPROGRESS) completed or failed */
  REIN_REC_MECHANISM = 16, /* a tracked process used a mechanism the file hooks cannot see */
  /* 17: reserved (file mechanisms) */
  REIN_REC_CIPHER_KEY = 18, /* rustls on aws-lc (AES-NI, ChaCha20): how to open the record whose
                               ciphertext follows (user space decrypts it, never keeps it) */
};

/* Every record starts with this. */
struct rein_hdr {
  __u16 kind;
  __u16 abi;
  __u32 size;   /* whole record, header included */
  __u64 ts_ns;  /* bpf_ktime_get_boot_ns(): CLOCK_BOOTTIME */
  __u32 pid;    /* thread id */
  __u32 tgid;   /* process id */
  __u32 agent;  /* root pid of the agent this process belongs to; 0 = none */
  __u32 uid;
};

/* Flags shared by records. */
#define REIN_F_PATH_TRUNCATED (1u << 0)
#define REIN_F_PATH2_TRUNCATED (1u << 1)
#define REIN_F_ARGS_TRUNCATED (1u << 2)
#define REIN_F_NEW_AGENT (1u << 3)   /* exec: this exec started an agent (selector matched) */
#define REIN_F_CANDIDATE (1u << 4)   /* exec: untracked, sent only for argv matching in user space */
#define REIN_F_PATH_FROM_FD (1u << 5) /* path came from the opened file itself (canonical) */
#define REIN_F_PATH_UNRESOLVED (1u << 6) /* directory could not be resolved; path as the caller gave it */
#define REIN_F_INGRESS (1u << 7)     /* dns: packet arriving at the process */
#define REIN_F_CREATED (1u << 8)     /* file open: this open created the file */
#define REIN_F_TRUNCATED (1u << 9)   /* file open: O_TRUNC emptied an existing file */
#define REIN_F_WRITABLE (1u << 10)   /* file open: opened for writing; bytes follow at close */
#define REIN_F_DISCOVERED (1u << 11) /* exec record sent at auto-discovery, not at an exec */
#define REIN_F_DISC_SNI (1u << 12)   /* discovered: its TLS server name is an LLM API host */
#define REIN_F_DISC_PLAIN (1u << 13) /* discovered: it sent a plain-HTTP LLM request */
#define REIN_F_SCRIPT (1u << 14)     /* exec: selected by the script an interpreter runs */
#define REIN_F_DNS_UNTRUSTED (1u << 20) /* dns answer: not from a trusted resolver, or to no
                                         query the socket sent: nothing is learned from it */
#define REIN_F_INODE_RULE (1u << 15) /* file: the rule matched on a directory's inode above the
                                        path (bind mount, chroot, namespace view) */
#define REIN_F_FILELESS (1u << 16)   /* exec: the file run has no name on disk (link count 0:
                                        a memfd, an O_TMPFILE file, a deleted file) */
#define REIN_F_CONTROLLED (1u << 17) /* exec record of a running process a tracked process took
                                        control of (ptrace attach or seize, process_vm_writev):
                                        tracked from now on as part of that agent; `selector`
                                        holds the controlling process's tgid; no args (another
                                        process's memory) */
#define REIN_F_CONTROLLED_VM (1u << 18) /* ... by process_vm_writev (else by ptrace) */
/* The policy_exec key of `exec: {fileless: true}` rules: the FNV-1a 64 of a string no path
 * or basename can be (paths are normalised, basenames hold no '/'). */
#define REIN_EXEC_FILELESS_KEY "//fileless"
#define REIN_EXEC_FILELESS_HASH 0x806cb6dd7ac54920ULL /* user space checks it at compile time */

/* REIN_REC_EXEC: tail = exe[exe_len] args[args_len] (NUL-separated) cwd[cwd_len] */
struct rein_exec {
  struct rein_hdr h;
  __u32 ppid;
  __u32 flags;
  __u64 cgroup_id;
  __u32 selector; /* index of the selector that matched (REIN_F_NEW_AGENT) */
  __u16 exe_len;
  __u16 args_len;
  __u16 cwd_len;
  /* The name as exec'd (bprm->filename, after cwd), which exec path rules also match. It
   * took what was zero padding, so exec records written before it read as having none. */
  __u16 name_len;
  __u32 gid;
  char comm[REIN_COMM_LEN];
  __u32 rule;     /* matched exec rule + 1, 0 = none */
  __u8 action;
  __u8 outcome;
  __u16 _pad1;
};

/* REIN_REC_FORK: h.tgid is the new process */
struct rein_fork {
  struct rein_hdr h;
  __u32 ppid;
  __u32 _pad0;
  __u64 cgroup_id;
  char comm[REIN_COMM_LEN];
};

/* REIN_REC_EXIT: sent once per process, when its last thread exits */
struct rein_exit {
  struct rein_hdr h;
  __u32 exit_code; /* wait(2) status encoding: (code << 8) | signal */
  __u32 ppid;
};

enum rein_file_op {
  REIN_OP_CREATE = 1,
  REIN_OP_WRITE = 2,
  REIN_OP_TRUNCATE = 3,
  REIN_OP_RENAME = 4,
  REIN_OP_UNLINK = 5,
  REIN_OP_CHMOD = 6,
  REIN_OP_CHOWN = 7,
  REIN_OP_MKDIR = 8,
  REIN_OP_RMDIR = 9,
  REIN_OP_LINK = 10,
  REIN_OP_SYMLINK = 11,
  REIN_OP_XATTR = 12, /* setxattr/removexattr family: an attribute change, like chmod */
  REIN_OP_MAX = 13,
};

/* REIN_REC_FILE: tail = path[path_len] path2[path2_len]
 * path2 is the new name (rename, link) or the link target (symlink, as given). */
struct rein_file {
  struct rein_hdr h;
  __u16 op;
  __u16 path_len;
  __u16 path2_len;
  __u16 _pad0;
  __s32 result;   /* 0 or -errno */
  __u32 flags;
  __u32 mode;     /* chmod/mkdir/create mode */
  __u32 owner;    /* chown uid (u32 -1 = unchanged) */
  __u32 group;    /* chown gid */
  __u32 syscall;  /* syscall number, for debugging and docs */
  __u32 rule;     /* matched rule + 1, 0 = none */
  __u8 action;    /* enum rein_action of the matched rule */
  __u8 outcome;   /* enum rein_outcome */
  __u16 _pad1;
};

/* REIN_REC_FILE_OPEN: tail = path[path_len]. User space keeps file_id -> path for the
 * write summary; the kernel only counts bytes. file_id names the open file description
 * (shared by dup'ed and inherited descriptors), so writes through any of them add up. */
struct rein_file_open {
  struct rein_hdr h;
  __u64 file_id;
  __s32 fd;
  __u32 flags;      /* REIN_F_* */
  __u32 open_flags; /* O_* as passed */
  __u32 mode;       /* inode mode after the open */
  __u16 path_len;
  __u16 _pad0;
  __u32 rule;       /* matched file rule + 1, 0 = none */
  __u8 action;
  __u8 outcome;
  __u16 _pad2;
  __u32 _pad3;
};

/* REIN_REC_MECHANISM: io_uring (its operations run in kernel workers the syscall hooks never
 * see). Under a file rule the process is killed at the syscall's entry (see file_extra.bpf.h).
 * REIN_MECH_EXEC_MAP: a file an exec rule names mapped executable by mmap(2), which is how a
 * program is run without exec'ing it (the dynamic loader given it as an argument); the rule
 * acts at the mmap's entry, before the code can run. Its path follows the fixed part. */
enum rein_mechanism_kind {
  REIN_MECH_IO_URING_SETUP = 1,
  REIN_MECH_IO_URING_ENTER = 2,    /* a ring it did not set up while tracked (inherited, passed) */
  REIN_MECH_IO_URING_REGISTER = 3,
  REIN_MECH_EXEC_MAP = 4,
  REIN_MECH_RAW_SOCKET = 5, /* a raw or packet socket: `flags` = family << 16 | socket type;
                               under a network rule the process is killed at socket(2)'s entry */
  REIN_MECH_SENSOR_TAMPER = 6, /* bpf(2) taking a BPF object by id (`flags` low 16 bits = the
                                  bpf command), or ptrace, process_vm_readv/writev, pidfd_getfd aimed at the
                                  sensor (REIN_TAMPER_AT_SENSOR | the syscall number); with
                                  REIN_TAMPER_NET_RULE, `rule` is a network rule (else a file
                                  rule); rule 0 with outcome killed: the sensor's own guard */
};
#define REIN_TAMPER_AT_SENSOR 0x10000u   /* sensor tamper flags: a syscall aimed at the sensor */
#define REIN_TAMPER_NET_RULE (1u << 31)  /* sensor tamper flags: the rule is a network rule */
struct rein_mechanism {
  struct rein_hdr h;
  __u32 mechanism; /* enum rein_mechanism_kind */
  __u32 rule;      /* io_uring: the file rule whose scope the process is in + 1; exec map:
                      the exec rule + 1; raw socket: the network rule whose scope the
                      process is in + 1; 0 = none */
  __u8 action;     /* that rule's action (deny is what the kernel applied) */
  __u8 outcome;    /* REIN_OUT_*, or 0 when only reported */
  __u16 path_len;  /* exec map: the mapped file's path (io_uring: 0; was zero padding) */
  __u32 flags;     /* exec map: REIN_F_PATH_TRUNCATED; raw socket: family << 16 | type */
};

/* Entries of the inode-rule map: rule directories plus exact-path rule files. */
#define REIN_RULE_INODES_MAX 4096

/* Key of the inode-rule map: a directory named by a PREFIX-double-star file rule. dev is the
 * kernel's internal encoding (major << 20 | minor), as in super_block.s_dev. */
struct rein_inode_key {
  __u64 ino;
  __u32 dev;
  __u32 _pad0;
};

/* REIN_REC_FILE_CLOSE: the last descriptor of the file was closed, or its opener exited. */
struct rein_file_close {
  struct rein_hdr h;
  __u64 file_id;
  __s32 fd;
  __u32 writes;
  __u64 bytes;
};

/* REIN_REC_CONNECT: the caller's sockaddr as passed (user space parses it). */
struct rein_connect {
  struct rein_hdr h;
  __s32 result;
  __s32 fd;
  __u32 addrlen; /* as passed by the caller */
  __u32 _pad0;
  __u8 sockaddr[112]; /* first bytes of the sockaddr (sockaddr_un is 110) */
};

/* REIN_REC_CONNECT_OUTCOME: how a TCP connect that returned EINPROGRESS ended. Joined to
 * its REIN_REC_CONNECT by (h.tgid, fd). On loopback it was seen to reach user space before
 * the connect record, so user space joins them in either order. */
struct rein_connect_outcome {
  struct rein_hdr h;
  __s32 fd;
  __s32 result;      /* 0 = established, else -errno (sk_err: ECONNREFUSED, ETIMEDOUT, ...) */
  __u64 latency_ns;  /* from the connect call to the outcome */
  __u32 state;       /* the TCP state it went to (1 established, 7 close) */
  __u32 _pad0;
};

/* REIN_REC_DNS: tail = the DNS message (UDP payload), at most REIN_DNS_MAX bytes */
struct rein_dns {
  struct rein_hdr h;
  __u64 sock_cookie;
  __u32 flags;      /* REIN_F_INGRESS */
  __u16 len;        /* bytes in the tail */
  __u16 orig_len;   /* payload length on the wire */
  __u16 family;
  __u16 port;       /* remote port */
  __u8 addr[16];    /* remote address */
  __u32 _pad0;
};

/* REIN_REC_DATA: tail = data[len]. One call (SSL_write, read, ...) may be split into
 * several chunks; `offset` is the position of the first byte in this direction's stream of
 * the connection, so user space sees gaps (bytes not copied) as jumps in offset. */
#define REIN_DATA_CHUNK 16384
#define REIN_DATA_MAX_CHUNKS 16 /* per call: at most 256 KiB copied, the rest counted */
#define REIN_DATA_PEEK 64       /* bytes looked at in untracked processes for discovery */
enum rein_data_source {
  REIN_SRC_OPENSSL = 1,
  REIN_SRC_GNUTLS = 2,
  REIN_SRC_SOCKET = 3, /* plain HTTP over a socket */
  REIN_SRC_TLS_HELLO = 4, /* the first bytes a tracked process sent on a TLS socket */
  REIN_SRC_BORINGSSL = 5, /* BoringSSL compiled into an executable (Bun) */
  REIN_SRC_RUSTLS = 6,    /* TLS 1.3 records sealed/opened by aws-lc's AES-GCM (rustls) */
  REIN_SRC_GOTLS = 7,     /* Go crypto/tls (*Conn).Read/Write */
};
/* rein_data.flags */
#define REIN_DF_KEYED 1 /* conn is a cipher key whose socket is not known yet (see REIN_REC_BIND) */
#define REIN_DF_LATE 2  /* first plaintext of a connection whose socket already carried more
                           than a handshake's worth of ciphertext: hooks came too late */
#define REIN_DF_NEW_CONN 4 /* the stream key (an SSL* or a socket's struct file, freed and
                            reallocated) now names another socket: a new stream starts here */
#define REIN_DF_CIPHER 8 /* the tail is a TLS record's ciphertext and tag, to be opened in user
                            space with the REIN_REC_CIPHER_KEY before it (never captured) */
#define REIN_LATE_CIPHER_BYTES 200
#define REIN_TLS_HELLO_MAX 2048 /* ClientHello bytes copied: SNI and ALPN sit well inside */
enum rein_data_dir {
  REIN_DIR_EGRESS = 0,  /* the process sent it (request) */
  REIN_DIR_INGRESS = 1, /* the process received it (response) */
};
struct rein_data {
  struct rein_hdr h;
  __u64 conn;   /* SSL* / gnutls session / socket file: with tgid, names the stream */
  __u64 offset;
  __u32 len;    /* bytes in this record's tail */
  __u32 call_len; /* bytes the whole call moved */
  __s32 fd;     /* socket fd when known, else -1 */
  __u8 dir;
  __u8 source;
  __u16 flags;
  __u16 peer_family; /* 0 until the socket is known */
  __u16 peer_port;   /* host byte order */
  __u32 _pad0;
  __u8 peer_addr[16];
};

/* REIN_REC_CIPHER_KEY: a TLS 1.3 record that aws-lc's AES-NI path opens in C code as well as
 * in assembly, so no hook sees its whole plaintext: the AES key (the first 16 or 32 bytes of
 * the key schedule; `rounds` as aws-lc stores it, 9 or 13), the nonce and the record header
 * (the AEAD's additional data). Also a record aws-lc opens with ChaCha20-Poly1305 (whose
 * assembly writes the plaintext as it goes): `rounds` is then
 * REIN_CIPHER_CHACHA20_POLY1305 and the key its 32 bytes. The record's ciphertext and tag follow as REIN_REC_DATA
 * chunks of the same (tgid, conn) with REIN_DF_CIPHER, from `offset` on. User space opens
 * the record (the tag proves the key) before anything else sees it, and drops the key. */
#define REIN_CIPHER_CHACHA20_POLY1305 20 /* ChaCha20's round count */

struct rein_cipher_key {
  struct rein_hdr h;
  __u64 conn;
  __u64 offset;
  __u32 record_len; /* ciphertext + 16-byte tag, as the header says */
  __u32 rounds; /* AES: aws-lc's schedule's count (9, 11, 13); REIN_CIPHER_CHACHA20_POLY1305 */
  __u8 key[32];
  __u8 nonce[12];
  __u8 header[5];
  __u8 _pad0[7];
};

/* REIN_REC_BIND: egress data sent with conn = `from` (a cipher key) belongs to the stream
 * `to` (the socket file) from now on; `from`'s offsets continue in `to`. */
struct rein_bind {
  struct rein_hdr h;
  __u64 from;
  __u64 to;
  __s32 fd;
  __u32 _pad0;
};

/* REIN_REC_TLS_LIB: tail = path[path_len] (absolute, in the process's mount namespace) */
struct rein_tls_lib {
  struct rein_hdr h;
  __u16 path_len;
  __u16 _pad0;
  __u32 _pad1;
};

/* Policy in the kernel. Actions and what the kernel did about them. */
enum rein_action {
  REIN_ACT_NONE = 0,
  REIN_ACT_AUDIT = 1,
  REIN_ACT_DENY = 2,
  REIN_ACT_PAUSE = 3,
};
enum rein_outcome {
  REIN_OUT_AUDITED = 1,
  REIN_OUT_PREVENTED = 2, /* the syscall failed with EPERM (cgroup hooks) */
  REIN_OUT_KILLED = 3,    /* SIGKILL sent: lands when the syscall returns */
  REIN_OUT_PAUSED = 4,    /* SIGSTOP sent: held for a human */
};

/* A matched rule, as the kernel stores it. scope: bit i = agent class i may match; bit 62 =
 * agents chosen on the command line, bit 63 = auto-discovered agents. ops: bit REIN_OP_* for
 * file rules. action REIN_ACT_NONE marks an allow-list entry: a match that allows. */
#define REIN_RULE_PORTS 4
#define REIN_CLASS_CLI 62
#define REIN_CLASS_DISCOVERED 63
struct rein_rule {
  __u32 rule;      /* index into the policy's rules (allow scopes follow the rules) */
  __u8 action;     /* enum rein_action */
  __u8 exact;      /* file prefix rules: the whole path must equal the prefix */
  __u16 prefix_len;
  __u64 scope;
  __u32 ops;
  __u16 nports;    /* network: 0 = any port */
  __u16 list;      /* allow-lists: id + 1 (rule_eval.h); action NONE = an allowed entry, else
                    * the list's catch-all with its `otherwise` action. 0 = a plain rule */
  __u16 ports[REIN_RULE_PORTS][2]; /* inclusive ranges */
};

/* Key of the path-prefix trie and the network trie. */
#define REIN_PATH_KEY 256
struct rein_path_key {
  __u32 prefixlen; /* bits */
  char path[REIN_PATH_KEY];
};
struct rein_net_key {
  __u32 prefixlen; /* bits, over the 16-byte (v4-mapped) address */
  __u8 addr[16];
};
/* An agent's LLM egress is refused (budget action block-llm). */
struct rein_endpoint {
  __u8 addr[16]; /* v4-mapped for IPv4 */
  __u16 port;
  __u16 _pad0;
  __u32 _pad1;
};

/* REIN_REC_POLICY_NET */
struct rein_policy_net {
  struct rein_hdr h;
  __u32 rule;
  __u8 action;
  __u8 outcome;
  __u16 port;
  __u8 addr[16]; /* v4-mapped for IPv4 */
  __u16 family;
  __u16 hook;    /* 4 or 6: connect; 14/16: sendmsg */
  __u32 budget;  /* non-zero: refused by a budget (block-llm), not a rule */
};

/* Held (paused) processes: map "held", tgid -> struct rein_held. The kernel adds an entry
 * when it sends SIGSTOP for a pause rule; user space adds one for its own pauses, marks it
 * SEIZED once every thread is ptrace-stopped (SIGCONT from others no longer resumes it) and
 * deletes it when the hold ends. While an entry is not SEIZED, a held process that makes a
 * syscall is stopped again (REIN_CTR_HOLD_ESCAPES). */
enum rein_held_state {
  REIN_HELD_KERNEL = 0, /* stopped with SIGSTOP, user space has not seized it (yet) */
  REIN_HELD_SEIZED = 1, /* every thread is in a ptrace-stop held by user space */
  REIN_HELD_SIGNAL = 2, /* seizing failed: only SIGSTOP (and the kernel's re-stop) hold it */
};
struct rein_held {
  __u32 rule;        /* rule index as in rein_rule.rule; 0xffffffff = not a rule (budget) */
  __u32 state;       /* enum rein_held_state */
  __u64 since_ns;    /* boot time of the stop */
  __u64 start_ticks; /* process start, clock ticks since boot as /proc/PID/stat field 22
                      * (start_boottime / 10ms): tells a reused pid apart; 0 = unknown */
};

/* REIN_REC_HOLD: h is the task doing it (the sender of SIGCONT, or the held process). */
enum rein_hold_event_kind {
  REIN_HOLD_EV_ESCAPE = 1, /* the held process ran (made a syscall): stopped again */
  REIN_HOLD_EV_CONT = 2,   /* h.tgid sent SIGCONT to the held process `target` */
};
struct rein_hold_event {
  struct rein_hdr h;
  __u32 target;  /* the held tgid */
  __u32 rule;    /* from its rein_held entry */
  __u16 event;   /* enum rein_hold_event_kind */
  __u16 nr;      /* the syscall: the one entered (escape) or the one that sent SIGCONT */
  __u32 state;   /* the entry's rein_held_state at the time */
};

/* Per-CPU counters (array map "counters"), summed by user space for sensor.health. */
enum rein_counter {
  REIN_CTR_RECORDS = 0,        /* records written to the ring */
  REIN_CTR_DROP_RINGBUF,       /* ring buffer full: record lost */
  REIN_CTR_DROP_PENDING_FULL,  /* a syscall's arguments had nowhere to wait for its exit: event lost */
  REIN_CTR_DROP_TRACK_FULL,    /* tracked-process map full: process not tracked */
  REIN_CTR_DROP_OPENFILE_FULL, /* open-file map full: writes through that fd not counted */
  REIN_CTR_PATH_TRUNCATED,     /* path longer than the buffer or deeper than the walk */
  REIN_CTR_ARGS_TRUNCATED,
  REIN_CTR_DNS_TRUNCATED,
  REIN_CTR_READ_FAILED,        /* user memory could not be read (string, sockaddr) */
  REIN_CTR_CANDIDATES,         /* untracked execs sent for argv matching */
  REIN_CTR_DATA_TRUNCATED,     /* payload bytes past the per-call copy bound (gaps) */
  REIN_CTR_DATA_READ_FAILED,   /* payload could not be read from the process */
  REIN_CTR_CONN_FULL,          /* connection map full: stream offsets lost */
  REIN_CTR_DISCOVERED,         /* processes that became agents by sending an LLM request */
  REIN_CTR_HOST_ADDRS,         /* addresses learned in the kernel from DNS answers for host rules */
  REIN_CTR_TLS_NOT_DATA,       /* rustls records that were not application data (handshake, alerts) */
  REIN_CTR_TLS_PADDED,         /* rustls records with padding: not decoded */
  REIN_CTR_DISCOVERED_SNI,     /* processes that became agents by an LLM host's TLS server name */
  REIN_CTR_DISCOVERED_PLAIN,   /* ... by a plain-HTTP LLM request */
  REIN_CTR_GO_UNPAIRED,        /* Go TLS returns with no recorded entry (goroutine map full) */
  REIN_CTR_TLS_LIB_OPENS,      /* TLS libraries opened by tracked processes */
  REIN_CTR_DNS_IGNORED,        /* DNS answers not taught: not from a resolver, or to no query the agent sent */
  REIN_CTR_HOLD_ESCAPES,       /* a held process ran again before its hold ended (re-stopped) */
  REIN_CTR_PATH_RESOLVE_HOLDS, /* mutations stopped until user space resolved their path */
  REIN_CTR_CONNECT_PENDING_FULL, /* non-blocking connects whose outcome could not be followed */
  REIN_CTR_TRACK_QUOTA,        /* processes not tracked: their agent is over its share of the table */
  REIN_CTR_DROP_DATA_BUDGET,   /* payload records dropped: the agent is over its data budget */
  REIN_CTR_DROP_CONTROL_RING,  /* control ring full: a policy-relevant record lost */
  REIN_CTR_PENDING_SHARED,     /* calls kept in task storage: another thread's call held their slot */
  REIN_CTR_MAX,
};

/* Mutable configuration in .bss, written by user space before attach and on reload. */
struct rein_config {
  __u32 self_tgid;        /* the sensor itself is never tracked */
  __u32 exec_candidates;  /* non-zero: send untracked execs for argv selectors */
  __u32 exe_selectors;    /* number of entries in the exe selector map */
  __u32 cgroup_selectors; /* number of entries in the cgroup selector map */
  __u32 autodiscover;     /* non-zero: LLM-shaped requests make their sender an agent */
  __u32 capture_plain;    /* non-zero: plain HTTP on sockets of tracked processes */
  __u32 file_rules;       /* entries in the file rule maps (0: skip the lookups) */
  __u32 exec_rules;
  __u32 net_rules;
  __u32 blocked_agents;   /* agents whose LLM egress is refused */
  __u32 host_rules;       /* entries in the host-name rule map */
  __u32 discover_connect; /* non-zero: an untracked process's first socket write after a TCP
                             connect is looked at (LLM TLS server name, plain LLM request) */
  __u32 script_selectors; /* non-zero: interpreters' script paths are matched at exec */
  __u32 data_rate_kib;    /* per-agent payload budget, KiB/s (0: unlimited) */
  __u32 data_burst_kib;   /* ... and the burst it may build up */
  __u32 _pad;
};

/* Value of the tracked-process map. */
struct rein_tracked {
  __u32 agent;    /* root pid */
  __u32 selector; /* selector index that started the agent */
  __u64 agent_start_ns; /* boot-time start of the agent root, to tell reused pids apart */
};

#endif
