/* SPDX-License-Identifier: Apache-2.0 OR GPL-2.0 */
/*
 * The wire format between the kernel programs (sensor.bpf.c) and the decoder
 * (src/record.rs). Every record starts with `struct rec_hdr`; the body that
 * follows depends on `kind`; variable-length data trails the body as "blobs":
 * a little-endian u16 length followed by that many bytes.
 *
 * Any change here must be mirrored in src/record.rs and bump WIRE_VERSION,
 * because recorded streams (`kestrel watch --record`) carry these bytes.
 */
#ifndef KESTREL_SENSOR_H
#define KESTREL_SENSOR_H

#define WIRE_VERSION 1

/* Record kinds; also the index into the per-CPU `drops` array. */
enum rec_kind {
	K_EXEC = 1,
	K_FORK = 2,
	K_EXIT = 3,
	K_OPEN = 10,
	K_RENAME = 11,
	K_UNLINK = 12,
	K_LINK = 13,
	K_SYMLINK = 14,
	K_CHMOD = 15,
	K_CHOWN = 16,
	K_MMAP = 17,
	K_MOUNT = 18,
	K_MEMFD = 19,
	K_CONNECT = 20,
	K_ACCEPT = 21,
	K_BIND = 22,
	K_LISTEN = 23,
	K_SOCKET = 24,
	K_DNS_SEND = 25,
	K_DNS_RECV = 26,
	K_SETID = 27,
	K_CAPSET = 28,
	K_PTRACE = 29,
	K_PVM_WRITEV = 30,
	K_INIT_MODULE = 31,
	K_FINIT_MODULE = 32,
	K_BPF = 33,
	K_UNSHARE = 34,
	K_SETNS = 35,
	K_MAX = 64,
};

/* Which syscall of a family produced a syscall record (`sub`). */
enum sub_kind {
	S_NONE = 0,
	/* open */
	S_OPEN = 1, S_OPENAT = 2, S_OPENAT2 = 3, S_CREAT = 4,
	/* rename / unlink / link / chmod / chown: the *at variants shift args */
	S_PLAIN = 1, S_AT = 2, S_AT2 = 3, S_FD = 4, S_L = 5,
	/* setid */
	S_SETUID = 1, S_SETGID = 2, S_SETREUID = 3, S_SETREGID = 4,
	S_SETRESUID = 5, S_SETRESGID = 6, S_SETFSUID = 7, S_SETFSGID = 8,
	/* accept */
	S_ACCEPT = 1, S_ACCEPT4 = 2,
	/* dns */
	S_SENDTO = 1, S_RECVFROM = 2, S_SENDMMSG = 3, S_SENDMSG = 4, S_RECVMSG = 5,
	/* dns, from a cgroup_skb program: the datagram itself */
	S_PACKET = 6,
};

struct rec_hdr {
	__u64 ts_boot_ns; /* bpf_ktime_get_boot_ns() */
	__u32 kind;
	__u32 tgid;
	__u32 tid;
	__u32 size; /* whole record, header included */
};

/* exec flags */
#define EXE_UPPER_LAYER (1u << 0)
#define EXE_MEMFD (1u << 1)
#define EXE_DELETED (1u << 2)
#define EXE_KILLED (1u << 3)
#define EXE_WOULD_KILL (1u << 4)
#define EXE_HAS_TTY (1u << 5)
#define EXE_HAS_LOGINUID (1u << 6)

/* Process identity common to exec and fork (child) records. */
struct proc_body {
	__u32 ppid;
	__u32 uid, gid, euid, egid, loginuid;
	__u32 tty_major, tty_minor;
	__u32 flags;
	__u64 cap_eff, cap_prm, cap_inh;
	__u32 ns_pid, ns_mnt, ns_net, ns_uts, ns_ipc, ns_user, ns_cgroup;
	__u32 _pad;
	__u64 start_boottime;
	__u64 exe_dev; /* kernel-internal dev_t (MAJOR << 20 | MINOR) */
	__u64 exe_ino;
	char comm[16];
};
/* K_EXEC: struct proc_body, then blobs: filename, exe path (components,
 * leaf first, NUL-terminated), argv (NUL-separated), env (NUL-separated,
 * empty when disabled), cwd (components, leaf first), cgroup (components,
 * leaf first). */
/* K_FORK: struct proc_body of the child with header tgid = parent, then
 * `__u32 child_tgid; __u32 pad`, then blob cgroup. */

/* K_EXIT */
struct exit_body {
	__s32 exit_code; /* wait(2) status */
	__u32 _pad;
};

/* A socket as the kernel sees it (from the fd), for network records. */
struct sock_tuple {
	__u16 family;
	__u16 type;
	__u16 protocol;
	__u16 lport; /* host order */
	__u16 rport; /* host order */
	__u16 _pad[3];
	__u8 laddr[16]; /* IPv4 in the first 4 bytes */
	__u8 raddr[16];
};

/* Every syscall record (kinds >= K_OPEN): body, then kind-specific blobs
 * (paths, sockaddrs, payloads). */
struct sc_body {
	__u32 sub;
	__u32 _pad;
	__s64 ret;
	__u64 args[6];
	struct sock_tuple sk;
	__u64 file_dev; /* kernel dev_t of the fd's file (mmap, finit_module) */
	__u64 file_ino;
};

#endif
