// SPDX-License-Identifier: Apache-2.0 OR GPL-2.0
/*
 * Kestrel's kernel side: CO-RE programs that turn process, file, network,
 * privilege and kernel-surface activity into records on one BPF ring buffer.
 *
 * Design:
 * - Process lifecycle comes from BTF tracepoints (tp_btf) on sched_process_*,
 *   which hand us the task_struct and linux_binprm directly.
 * - Syscalls come from the specific syscalls/sys_enter_X and sys_exit_X
 *   tracepoints of the syscalls we care about, so that other syscalls cost
 *   nothing. The enter program stashes the arguments per thread; the exit
 *   program reads strings and sockets once the result is known, filters, and
 *   emits. A record is built in a per-CPU scratch buffer and copied to the
 *   ring with bpf_ringbuf_output, so its size follows its content.
 * - Every failed ring-buffer write increments a per-CPU counter per record
 *   kind: drops are counted, never silent.
 * - Enforcement: the exec program looks the executable's (dev, ino) up in
 *   `exec_deny`, then the new process name up in `exec_deny_comm`, and sends
 *   SIGKILL to the task before it runs a single instruction of the new image.
 *
 * Wire format: sensor.h. Userspace decoder: src/record.rs.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "sensor.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set from userspace before load (EbpfLoader::override_global). */
const volatile __u32 cfg_self_tgid = 0;
const volatile __u32 cfg_env_bytes = 4096;
const volatile __u32 cfg_cgroup_v1_pids = 0;
const volatile __u32 cfg_open_flags_mask = 0;
/* Non-zero when `open_suffixes` has entries (the reversal is skipped otherwise). */
const volatile __u32 cfg_open_suffixes = 0;

#define BUF_SZ (16384 + 8192)
#define OFF_MASK 16383
/* Appending stops past this offset, so a record never exceeds OFF_MASK. */
#define LIMIT 12288
#define PATH_DEPTH 24
#define CGROUP_DEPTH 10
#define DNS_MAX 512
#define SOCKADDR_MAX 128

#define AT_FDCWD -100
#define O_CREAT 0100
#define O_WRONLY 01
#define O_TRUNC 01000
#define O_RDWR 02
#define O_APPEND 02000
/* An open that may modify the file: what `write` entries of the open filter report. */
#define OPEN_WRITE_FLAGS (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)
#define PROT_EXEC 0x4
#define AF_INET 2
#define AF_INET6 10
#define AF_PACKET 17
#define SOCK_RAW 3
#define IPPROTO_UDP 17
#define SIGKILL 9
#define OVERLAYFS_SUPER_MAGIC 0x794c7630

struct scratch {
	__u8 b[BUF_SZ];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 * 1024 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, K_MAX);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

struct inflight {
	__u64 args[6];
	__u32 sub;
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct inflight);
} inflight SEC(".maps");

struct lpm_key {
	__u32 prefixlen;
	__u8 data[256];
};

/* Values of the open filter tries: report every open, or only opens for writing. */
#define OPEN_ANY 1
#define OPEN_WRITE 2
/* Suffixes are matched on the last SUFFIX_MAX bytes of the path. */
#define SUFFIX_MAX 64

/* Path prefixes whose opens are reported; prefixlen in bits. The longest
 * matching prefix decides (user space never inserts a write-only prefix
 * below a report-all one). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 256);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, __u8);
} open_prefixes SEC(".maps");

/* Path suffixes (file names such as release_agent or .bash_history, in any
 * directory), stored reversed so that an LPM trie matches them. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 256);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, __u8);
} open_suffixes SEC(".maps");

/* Steps of an absolute-path walk: path components plus mount crossings. */
#define ABS_STEPS 40

/* A trie key being built, with room behind it: a bounded string read that
 * starts near the end of `k.data` lands in `spill`, so the verifier accepts
 * it, and the key the trie reads stays `k`. `names` holds a path's dentry
 * name pointers (0 for a mount crossing) while it is turned from leaf-first
 * to forward order. */
struct lpm_buf {
	struct lpm_key k;
	__u8 spill[256];
	__u64 names[64];
	/* abs_path_key's write offset, kept in the map rather than a register
	 * so that the verifier does not track its exact value through every
	 * iteration (its states would never converge). */
	__u32 off;
	__u32 _pad;
};

/* [0]: the path as user space passed it, or the opened file's absolute path;
 * [1]: its tail, reversed. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct lpm_buf);
} lpm_scratch SEC(".maps");

/* Forbidden executables by (kernel dev_t, inode): 1 = kill, 2 = dry run. */
struct exe_key {
	__u64 dev;
	__u64 ino;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct exe_key);
	__type(value, __u32);
} exec_deny SEC(".maps");

/* Forbidden process names: the task's comm after exec (what proc.name is),
 * NUL-padded to 16 bytes; same values as exec_deny. */
struct comm_key {
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct comm_key);
	__type(value, __u32);
} exec_deny_comm SEC(".maps");

/* kernfs_node.parent was renamed __parent in 6.15. */
struct kernfs_node___old {
	struct kernfs_node *parent;
} __attribute__((preserve_access_index));

static __always_inline struct scratch *get_scratch(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&scratch, &zero);
}

static __always_inline void count_drop(__u32 kind)
{
	__u32 k = kind & (K_MAX - 1);
	__u64 *c = bpf_map_lookup_elem(&drops, &k);
	if (c)
		*c += 1;
}

static __always_inline int is_self(void)
{
	return cfg_self_tgid && (bpf_get_current_pid_tgid() >> 32) == cfg_self_tgid;
}

static __always_inline void start_rec(__u8 *b, __u32 kind)
{
	struct rec_hdr *h = (void *)b;
	__u64 id = bpf_get_current_pid_tgid();
	h->ts_boot_ns = bpf_ktime_get_boot_ns();
	h->kind = kind;
	h->tgid = id >> 32;
	h->tid = (__u32)id;
	h->size = 0;
}

static __always_inline void emit(__u8 *b, __u32 size, __u32 kind)
{
	size &= OFF_MASK;
	if (size < sizeof(struct rec_hdr))
		return;
	((struct rec_hdr *)b)->size = size;
	if (bpf_ringbuf_output(&events, b, size, 0))
		count_drop(kind);
}

/* Masks an offset into the scratch buffer in a way the compiler cannot
 * optimise away, so the verifier always sees a bounded index. */
static __always_inline __u64 bound(__u64 x)
{
	asm volatile("%0 &= 16383" : "+r"(x));
	return x;
}

static __always_inline void put_len(__u8 *b, __u32 at, __u32 len)
{
	b[bound(at)] = len & 0xff;
	b[bound(at + 1)] = (len >> 8) & 0xff;
}

/* An empty blob. */
static __always_inline __u32 blob_empty(__u8 *b, __u32 off)
{
	put_len(b, off, 0);
	return off + 2;
}

/* A NUL-terminated user string, without its NUL, at most 4095 bytes. */
static __always_inline __u32 blob_user_str(__u8 *b, __u32 off, const void *uptr)
{
	long n = 0;
	if (uptr && off < LIMIT)
		n = bpf_probe_read_user_str(&b[bound(off + 2)], 4096, uptr);
	__u32 len = n > 0 ? (__u32)(n - 1) & 4095 : 0;
	put_len(b, off, len);
	return off + 2 + len;
}

/* `len` raw user bytes, at most 4095. */
static __always_inline __u32 blob_user_bytes(__u8 *b, __u32 off, const void *uptr, __u64 len)
{
	if (len > 4095)
		len = 4095;
	__u32 l = len & 4095;
	if (!uptr || off >= LIMIT || bpf_probe_read_user(&b[bound(off + 2)], l, uptr))
		l = 0;
	put_len(b, off, l);
	return off + 2 + l;
}

/* A path as dentry names, leaf first, each NUL-terminated; crosses mounts
 * up to the root of the task's mount tree. Userspace reverses it.
 *
 * A global (non-static) function: the verifier checks it once with `off`
 * unknown, so the loop's states converge instead of multiplying per call
 * site and per iteration. */
__noinline int path_blob(struct scratch *s, __u32 off, __u64 dentry, __u64 vfsmnt)
{
	if (!s)
		return off;
	__u8 *b = s->b;
	off &= OFF_MASK;
	if (off >= LIMIT)
		return off;
	__u32 start = off;
	off += 2;
	struct dentry *d = (void *)dentry;
	struct mount *mnt = (void *)vfsmnt - bpf_core_field_offset(struct mount, mnt);
	for (int i = 0; i < PATH_DEPTH; i++) {
		if (!d || off >= LIMIT)
			break;
		struct dentry *mnt_root = BPF_CORE_READ(mnt, mnt.mnt_root);
		struct dentry *parent = BPF_CORE_READ(d, d_parent);
		if (d == mnt_root || d == parent) {
			struct mount *mp = BPF_CORE_READ(mnt, mnt_parent);
			if (!mp || mp == mnt)
				break;
			d = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = mp;
			continue;
		}
		const unsigned char *name = BPF_CORE_READ(d, d_name.name);
		long n = bpf_probe_read_kernel_str(&b[bound(off)], 256, name);
		if (n <= 0)
			break;
		off += n & 511;
		d = parent;
	}
	put_len(b, start, off - start - 2);
	return off;
}

static __always_inline struct kernfs_node *kn_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(kn->__parent))
		return BPF_CORE_READ(kn, __parent);
	struct kernfs_node___old *old = (void *)kn;
	return BPF_CORE_READ(old, parent);
}

/* The task's cgroup path, components leaf first. With cgroup v1 (hybrid
 * hosts) the pids hierarchy is used, which every OCI runtime populates. */
__noinline int cgroup_blob(struct scratch *s, __u32 off, __u64 task)
{
	if (!s)
		return off;
	__u8 *b = s->b;
	struct task_struct *t = (void *)task;
	off &= OFF_MASK;
	if (off >= LIMIT)
		return off;
	__u32 start = off;
	off += 2;
	struct kernfs_node *kn = 0;
	if (cfg_cgroup_v1_pids) {
		struct css_set *cs = BPF_CORE_READ(t, cgroups);
		__u32 idx = bpf_core_enum_value(enum cgroup_subsys_id, pids_cgrp_id);
		struct cgroup_subsys_state *css = 0;
		if (idx < 16)
			bpf_core_read(&css, sizeof(css), &cs->subsys[idx]);
		kn = BPF_CORE_READ(css, cgroup, kn);
	} else {
		kn = BPF_CORE_READ(t, cgroups, dfl_cgrp, kn);
	}
	for (int i = 0; i < CGROUP_DEPTH; i++) {
		if (!kn || off >= LIMIT)
			break;
		struct kernfs_node *parent = kn_parent(kn);
		if (!parent)
			break; /* the hierarchy root has no useful name */
		const char *name = BPF_CORE_READ(kn, name);
		long n = bpf_probe_read_kernel_str(&b[bound(off)], 256, name);
		if (n <= 0)
			break;
		off += n & 511;
		kn = parent;
	}
	put_len(b, start, off - start - 2);
	return off;
}

static __always_inline void fill_proc(struct proc_body *p, struct task_struct *t)
{
	__builtin_memset(p, 0, sizeof(*p));
	p->ppid = BPF_CORE_READ(t, real_parent, tgid);
	const struct cred *c = BPF_CORE_READ(t, real_cred);
	p->uid = BPF_CORE_READ(c, uid.val);
	p->gid = BPF_CORE_READ(c, gid.val);
	p->euid = BPF_CORE_READ(c, euid.val);
	p->egid = BPF_CORE_READ(c, egid.val);
	p->cap_eff = BPF_CORE_READ(c, cap_effective.val);
	p->cap_prm = BPF_CORE_READ(c, cap_permitted.val);
	p->cap_inh = BPF_CORE_READ(c, cap_inheritable.val);
	p->ns_user = BPF_CORE_READ(c, user_ns, ns.inum);
	if (bpf_core_field_exists(t->loginuid)) {
		p->loginuid = BPF_CORE_READ(t, loginuid.val);
		if (p->loginuid != (__u32)-1)
			p->flags |= EXE_HAS_LOGINUID;
	}
	struct tty_struct *tty = BPF_CORE_READ(t, signal, tty);
	if (tty) {
		int index = BPF_CORE_READ(tty, index);
		p->tty_major = BPF_CORE_READ(tty, driver, major);
		p->tty_minor = BPF_CORE_READ(tty, driver, minor_start) + index;
		p->flags |= EXE_HAS_TTY;
	}
	struct nsproxy *ns = BPF_CORE_READ(t, nsproxy);
	p->ns_mnt = BPF_CORE_READ(ns, mnt_ns, ns.inum);
	p->ns_net = BPF_CORE_READ(ns, net_ns, ns.inum);
	p->ns_uts = BPF_CORE_READ(ns, uts_ns, ns.inum);
	p->ns_ipc = BPF_CORE_READ(ns, ipc_ns, ns.inum);
	p->ns_cgroup = BPF_CORE_READ(ns, cgroup_ns, ns.inum);
	struct pid *pid = BPF_CORE_READ(t, thread_pid);
	unsigned int level = BPF_CORE_READ(pid, level);
	struct upid up = {};
	bpf_core_read(&up, sizeof(up), &pid->numbers[level & 31]);
	p->ns_pid = BPF_CORE_READ(up.ns, ns.inum);
	p->start_boottime = BPF_CORE_READ(t, start_boottime);
	BPF_CORE_READ_STR_INTO(&p->comm, t, comm);
}

/* ---------------------------------------------------------------- process */

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	struct scratch *sc = get_scratch();
	if (!sc)
		return 0;
	__u8 *b = sc->b;
	start_rec(b, K_EXEC);
	struct proc_body *p = (void *)(b + sizeof(struct rec_hdr));
	fill_proc(p, task);

	struct file *f = BPF_CORE_READ(bprm, file);
	struct inode *ino = BPF_CORE_READ(f, f_inode);
	struct super_block *sb = BPF_CORE_READ(ino, i_sb);
	p->exe_dev = BPF_CORE_READ(sb, s_dev);
	p->exe_ino = BPF_CORE_READ(ino, i_ino);
	if (BPF_CORE_READ(ino, i_nlink) == 0)
		p->flags |= EXE_DELETED;
	if (BPF_CORE_READ(sb, s_magic) == OVERLAYFS_SUPER_MAGIC) {
		struct ovl_inode *oi = (void *)ino - bpf_core_field_offset(struct ovl_inode, vfs_inode);
		if (BPF_CORE_READ(oi, __upperdentry))
			p->flags |= EXE_UPPER_LAYER;
	}
	char prefix[8] = {};
	bpf_probe_read_kernel(prefix, 6, BPF_CORE_READ(f, f_path.dentry, d_name.name));
	if (prefix[0] == 'm' && prefix[1] == 'e' && prefix[2] == 'm' && prefix[3] == 'f' &&
	    prefix[4] == 'd' && prefix[5] == ':')
		p->flags |= EXE_MEMFD;

	struct exe_key key = {.dev = p->exe_dev, .ino = p->exe_ino};
	__u32 *action = bpf_map_lookup_elem(&exec_deny, &key);
	if (!action) {
		/* exec has already set comm to the new image's name; a local,
		 * zeroed key so that bytes past the NUL match user space's padding. */
		struct comm_key ck = {};
		BPF_CORE_READ_STR_INTO(&ck.comm, task, comm);
		action = bpf_map_lookup_elem(&exec_deny_comm, &ck);
	}
	if (action) {
		if (*action == 1) {
			bpf_send_signal(SIGKILL);
			p->flags |= EXE_KILLED;
		} else {
			p->flags |= EXE_WOULD_KILL;
		}
	}

	__u32 off = sizeof(struct rec_hdr) + sizeof(struct proc_body);
	/* bprm->filename is a kernel copy of what was passed to execve. */
	const char *filename = BPF_CORE_READ(bprm, filename);
	long n = bpf_probe_read_kernel_str(&b[bound(off + 2)], 4096, filename);
	__u32 flen = n > 0 ? (__u32)(n - 1) & 4095 : 0;
	put_len(b, off, flen);
	off += 2 + flen;

	off = path_blob(sc, off, (__u64)BPF_CORE_READ(f, f_path.dentry), (__u64)BPF_CORE_READ(f, f_path.mnt));

	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	__u64 as = BPF_CORE_READ(mm, arg_start), ae = BPF_CORE_READ(mm, arg_end);
	off = blob_user_bytes(b, off, (void *)as, ae > as ? ae - as : 0);
	__u64 es = BPF_CORE_READ(mm, env_start), ee = BPF_CORE_READ(mm, env_end);
	__u64 elen = ee > es ? ee - es : 0;
	if (elen > cfg_env_bytes)
		elen = cfg_env_bytes;
	off = blob_user_bytes(b, off, (void *)es, elen);

	off = path_blob(sc, off, (__u64)BPF_CORE_READ(task, fs, pwd.dentry), (__u64)BPF_CORE_READ(task, fs, pwd.mnt));
	/* group_leader is the task itself (exec makes it the leader) and reads
	 * back as a plain scalar, which a global function accepts. */
	off = cgroup_blob(sc, off, (__u64)BPF_CORE_READ(task, group_leader));
	emit(b, off, K_EXEC);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	if (is_self())
		return 0;
	/* Threads are not processes. */
	if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid))
		return 0;
	struct scratch *sc = get_scratch();
	if (!sc)
		return 0;
	__u8 *b = sc->b;
	start_rec(b, K_FORK);
	struct proc_body *p = (void *)(b + sizeof(struct rec_hdr));
	fill_proc(p, child);
	__u32 off = sizeof(struct rec_hdr) + sizeof(struct proc_body);
	__u32 *ct = (void *)&b[bound(off)];
	ct[0] = BPF_CORE_READ(child, tgid);
	ct[1] = 0;
	off += 8;
	off = cgroup_blob(sc, off, (__u64)BPF_CORE_READ(child, group_leader));
	emit(b, off, K_FORK);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_proc_exit, struct task_struct *task)
{
	/* Only the last thread of a thread group ends the process. */
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	if (is_self())
		return 0;
	struct scratch *sc = get_scratch();
	if (!sc)
		return 0;
	__u8 *b = sc->b;
	start_rec(b, K_EXIT);
	struct exit_body *e = (void *)(b + sizeof(struct rec_hdr));
	e->exit_code = BPF_CORE_READ(task, exit_code);
	e->_pad = 0;
	emit(b, sizeof(struct rec_hdr) + sizeof(struct exit_body), K_EXIT);
	return 0;
}

/* --------------------------------------------------------------- syscalls */

static __always_inline struct file *file_from_fd(long fd)
{
	if (fd < 0)
		return 0;
	struct task_struct *t = (void *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	unsigned int max = BPF_CORE_READ(fdt, max_fds);
	if ((unsigned long)fd >= max)
		return 0;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = 0;
	bpf_core_read(&f, sizeof(f), &fds[fd & 0xfffff]);
	return f;
}

static __always_inline struct sock *sock_from_fd(long fd)
{
	struct file *f = file_from_fd(fd);
	if (!f)
		return 0;
	struct socket *s = BPF_CORE_READ(f, private_data);
	return BPF_CORE_READ(s, sk);
}

static __always_inline void fill_tuple(struct sock_tuple *t, struct sock *sk)
{
	__builtin_memset(t, 0, sizeof(*t));
	if (!sk)
		return;
	t->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	t->type = BPF_CORE_READ(sk, sk_type);
	t->protocol = BPF_CORE_READ(sk, sk_protocol);
	t->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	t->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (t->family == AF_INET) {
		bpf_core_read(t->laddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(t->raddr, 4, &sk->__sk_common.skc_daddr);
	} else if (t->family == AF_INET6) {
		bpf_core_read(t->laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(t->raddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
}

static __always_inline void fill_file(struct sc_body *s, struct file *f)
{
	struct inode *ino = BPF_CORE_READ(f, f_inode);
	s->file_dev = BPF_CORE_READ(ino, i_sb, s_dev);
	s->file_ino = BPF_CORE_READ(ino, i_ino);
}

static __always_inline __u32 blob_file(struct scratch *sc, __u32 off, struct file *f)
{
	if (!f)
		return blob_empty(sc->b, off);
	return path_blob(sc, off, (__u64)BPF_CORE_READ(f, f_path.dentry), (__u64)BPF_CORE_READ(f, f_path.mnt));
}

/* Port of a user sockaddr (inet/inet6), 0 otherwise. */
static __always_inline __u16 user_sockaddr_port(const void *uaddr)
{
	struct {
		__u16 family;
		__u16 port;
	} sa = {};
	if (!uaddr || bpf_probe_read_user(&sa, sizeof(sa), uaddr))
		return 0;
	if (sa.family != AF_INET && sa.family != AF_INET6)
		return 0;
	return bpf_ntohs(sa.port);
}

static __always_inline int on_enter(struct trace_event_raw_sys_enter *ctx, int nargs, __u32 kind, __u32 sub)
{
	if (is_self())
		return 0;
	/* Cheap filters that need only the arguments. */
	if (kind == K_MMAP && (!(ctx->args[2] & PROT_EXEC) || (long)ctx->args[4] < 0))
		return 0;
	if (kind == K_SOCKET && ctx->args[0] != AF_PACKET && (ctx->args[1] & 0xf) != SOCK_RAW)
		return 0;
	/* DNS capture is UDP only: the send and receive calls of TCP streams (databases, HTTP,
	 * every request of a redis or web server) stop here, before any map write. */
	if (kind == K_DNS_SEND || kind == K_DNS_RECV) {
		struct sock *sk = sock_from_fd(ctx->args[0]);
		if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_UDP)
			return 0;
	}
	struct inflight v = {};
	if (nargs > 0)
		v.args[0] = ctx->args[0];
	if (nargs > 1)
		v.args[1] = ctx->args[1];
	if (nargs > 2)
		v.args[2] = ctx->args[2];
	if (nargs > 3)
		v.args[3] = ctx->args[3];
	if (nargs > 4)
		v.args[4] = ctx->args[4];
	if (nargs > 5)
		v.args[5] = ctx->args[5];
	v.sub = sub;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	bpf_map_update_elem(&inflight, &tid, &v, BPF_ANY);
	return 0;
}

/* An index into a trie key's data, masked so that the verifier sees it (see
 * bound). */
static __always_inline __u64 key_bound(__u64 x)
{
	asm volatile("%0 &= 255" : "+r"(x));
	return x;
}

/* The dentry names of a path, leaf first, into lb->names, one slot per step
 * (0 where the walk crosses a mount); crosses mounts up to the root of the
 * task's mount tree, like path_blob. Returns the slots used, or -1 for a path
 * longer than ABS_STEPS steps. A global function, verified once with its
 * arguments unknown (see path_blob); the slot index is the loop counter, so
 * that the verifier's states converge, and abs_path_key is its own function
 * so that its loop is not verified again for every count this one returns. */
__noinline int path_names(struct lpm_buf *lb, __u64 dentry, __u64 vfsmnt)
{
	if (!lb)
		return -1;
	struct dentry *d = (void *)dentry;
	struct mount *mnt = (void *)vfsmnt - bpf_core_field_offset(struct mount, mnt);
	for (int i = 0; i < ABS_STEPS; i++) {
		lb->names[i & 63] = 0;
		if (!d)
			return i;
		struct dentry *mnt_root = BPF_CORE_READ(mnt, mnt.mnt_root);
		struct dentry *parent = BPF_CORE_READ(d, d_parent);
		if (d == mnt_root || d == parent) {
			struct mount *mp = BPF_CORE_READ(mnt, mnt_parent);
			if (!mp || mp == mnt)
				return i;
			d = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = mp;
			continue;
		}
		lb->names[i & 63] = (__u64)BPF_CORE_READ(d, d_name.name);
		d = parent;
	}
	return -1;
}

/* The absolute path whose names path_names left in the first `n` slots,
 * forward ("/etc/shadow"), into lb->k: at most 255 bytes (a longer path keeps
 * its first 255, which is what a prefix compares). Returns the length, 0 if a
 * name is unreadable. */
__noinline int abs_path_key(struct lpm_buf *lb, int n)
{
	if (!lb || n < 0)
		return 0;
	lb->off = 0;
	for (int i = ABS_STEPS - 1; i >= 0; i--) {
		if (i >= n)
			continue;
		__u64 name = lb->names[i & 63];
		if (!name)
			continue;
		__u32 off = *(volatile __u32 *)&lb->off;
		if (off >= 255)
			break;
		lb->k.data[key_bound(off)] = '/';
		off++;
		long r = bpf_probe_read_kernel_str(&lb->k.data[key_bound(off)], 256, (void *)name);
		if (r <= 0)
			return 0;
		lb->off = off + ((r - 1) & 255);
	}
	__u32 len = lb->off;
	if (!len) {
		lb->k.data[0] = '/';
		len = 1;
	}
	if (len > 255)
		len = 255;
	lb->k.prefixlen = len * 8;
	return len;
}

/* Whether the path in lb->k (as open_wanted read it) is spelled other than
 * canonically: "//", "/./" or "/../" anywhere, or a trailing "/." or "/..".
 * Such a path can name /etc/shadow without starting with "/etc/"
 * ("/tmp/../etc/shadow", "//etc/shadow"), so the filter resolves it. A
 * global function: its loop is verified once. */
__noinline int noncanonical(struct lpm_buf *lb)
{
	if (!lb)
		return 0;
	__u32 len = lb->k.prefixlen / 8;
	for (__u32 i = 0; i < 254; i++) {
		if (i + 1 >= len)
			break;
		if (lb->k.data[i] != '/')
			continue;
		__u8 c1 = lb->k.data[(i + 1) & 255];
		if (c1 == '/')
			return 1;
		if (c1 != '.')
			continue;
		__u8 c2 = i + 2 < len ? lb->k.data[(i + 2) & 255] : '/';
		if (c2 == '/')
			return 1;
		if (c2 != '.')
			continue;
		__u8 c3 = i + 3 < len ? lb->k.data[(i + 3) & 255] : '/';
		if (c3 == '/')
			return 1;
	}
	return 0;
}

static __always_inline int trie_wants(void *trie, struct lpm_key *k, int write)
{
	__u8 *v = bpf_map_lookup_elem(trie, k);
	return v && ((*v & OPEN_ANY) || ((*v & OPEN_WRITE) && write));
}

/* Leaves the path as passed in lpm_scratch[0] whatever it decides (an
 * unreadable path as an empty absolute one), for the caller's relative and
 * non-canonical checks. */
static __always_inline int open_wanted(const void *upath, __u64 flags)
{
	__u32 zero = 0, one = 1;
	struct lpm_buf *kb = bpf_map_lookup_elem(&lpm_scratch, &zero);
	if (!kb)
		return 0;
	struct lpm_key *k = &kb->k;
	long n = bpf_probe_read_user_str(k->data, sizeof(k->data), upath);
	if (n <= 0) {
		k->data[0] = '/';
		k->prefixlen = 0;
		return (flags & cfg_open_flags_mask) != 0;
	}
	__u32 len = (__u32)(n - 1);
	k->prefixlen = len * 8;
	if (flags & cfg_open_flags_mask)
		return 1;
	int write = (flags & OPEN_WRITE_FLAGS) != 0;
	if (trie_wants(&open_prefixes, k, write))
		return 1;
	if (!cfg_open_suffixes)
		return 0;
	struct lpm_buf *rb = bpf_map_lookup_elem(&lpm_scratch, &one);
	if (!rb)
		return 0;
	struct lpm_key *r = &rb->k;
	/* A bounded copy of the tail, last byte first: at most SUFFIX_MAX steps. */
	__u32 m = len < SUFFIX_MAX ? len : SUFFIX_MAX;
	for (__u32 i = 0; i < SUFFIX_MAX; i++) {
		if (i >= m)
			break;
		r->data[i] = k->data[(len - 1 - i) & 0xff];
	}
	r->prefixlen = m * 8;
	return trie_wants(&open_suffixes, r, write);
}

static __always_inline int sys_exit_common(struct trace_event_raw_sys_exit *ctx, __u32 kind)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct inflight *in = bpf_map_lookup_elem(&inflight, &tid);
	if (!in)
		return 0;
	struct inflight v = *in;
	bpf_map_delete_elem(&inflight, &tid);
	long ret = ctx->ret;

	struct scratch *sc = get_scratch();
	if (!sc)
		return 0;
	__u8 *b = sc->b;
	start_rec(b, kind);
	struct sc_body *s = (void *)(b + sizeof(struct rec_hdr));
	__builtin_memset(s, 0, sizeof(*s));
	s->sub = v.sub;
	s->ret = ret;
	s->args[0] = v.args[0];
	s->args[1] = v.args[1];
	s->args[2] = v.args[2];
	s->args[3] = v.args[3];
	s->args[4] = v.args[4];
	s->args[5] = v.args[5];
	__u32 off = sizeof(struct rec_hdr) + sizeof(struct sc_body);

	switch (kind) {
	case K_OPEN: {
		/* Normalise to args = (dirfd, flags, mode). */
		const void *path;
		if (v.sub == S_OPEN) {
			path = (void *)v.args[0];
			s->args[0] = (__u64)AT_FDCWD;
			s->args[1] = v.args[1];
			s->args[2] = v.args[2];
		} else if (v.sub == S_CREAT) {
			path = (void *)v.args[0];
			s->args[0] = (__u64)AT_FDCWD;
			s->args[1] = O_CREAT | O_WRONLY | O_TRUNC;
			s->args[2] = v.args[1];
		} else if (v.sub == S_OPENAT2) {
			path = (void *)v.args[1];
			struct {
				__u64 flags, mode, resolve;
			} how = {};
			bpf_probe_read_user(&how, sizeof(how), (void *)v.args[2]);
			s->args[1] = how.flags;
			s->args[2] = how.mode;
		} else {
			path = (void *)v.args[1];
			s->args[1] = v.args[2];
			s->args[2] = v.args[3];
		}
		int wanted = open_wanted(path, s->args[1]);
		/* A relative path says nothing about where the file is (`cd /etc;
		 * cat shadow`), and a non-canonical one can hide it
		 * (`/tmp/../etc/shadow`): a successful open is matched, and
		 * reported, by the opened file's absolute path instead. */
		__u32 zero = 0;
		struct lpm_buf *lb = bpf_map_lookup_elem(&lpm_scratch, &zero);
		if (lb && ret >= 0 && (lb->k.data[0] != '/' || (!wanted && noncanonical(lb)))) {
			struct file *f = file_from_fd(ret);
			if (!f)
				return 0;
			int depth = path_names(lb, (__u64)BPF_CORE_READ(f, f_path.dentry),
					       (__u64)BPF_CORE_READ(f, f_path.mnt));
			__u32 len = abs_path_key(lb, depth);
			if (!len)
				return 0;
			if (!wanted && !trie_wants(&open_prefixes, &lb->k,
						   (s->args[1] & OPEN_WRITE_FLAGS) != 0))
				return 0;
			len &= 255;
			if (bpf_probe_read_kernel(&b[bound(off + 2)], len, lb->k.data))
				len = 0;
			put_len(b, off, len);
			off += 2 + len;
			break;
		}
		if (!wanted)
			return 0;
		off = blob_user_str(b, off, path);
		break;
	}
	case K_RENAME:
		if (v.sub == S_PLAIN) {
			off = blob_user_str(b, off, (void *)v.args[0]);
			off = blob_user_str(b, off, (void *)v.args[1]);
		} else {
			off = blob_user_str(b, off, (void *)v.args[1]);
			off = blob_user_str(b, off, (void *)v.args[3]);
		}
		break;
	case K_UNLINK:
		off = blob_user_str(b, off, (void *)(v.sub == S_AT ? v.args[1] : v.args[0]));
		break;
	case K_LINK:
		/* (target, link path) */
		if (v.sub == S_PLAIN) {
			off = blob_user_str(b, off, (void *)v.args[0]);
			off = blob_user_str(b, off, (void *)v.args[1]);
		} else {
			off = blob_user_str(b, off, (void *)v.args[1]);
			off = blob_user_str(b, off, (void *)v.args[3]);
		}
		break;
	case K_SYMLINK:
		off = blob_user_str(b, off, (void *)v.args[0]);
		off = blob_user_str(b, off, (void *)(v.sub == S_PLAIN ? v.args[1] : v.args[2]));
		break;
	case K_CHMOD:
	case K_CHOWN:
		if (v.sub == S_FD) {
			struct file *f = file_from_fd(v.args[0]);
			off = blob_file(sc, off, f);
		} else if (v.sub == S_AT) {
			off = blob_user_str(b, off, (void *)v.args[1]);
		} else {
			off = blob_user_str(b, off, (void *)v.args[0]);
		}
		break;
	case K_MMAP: {
		if (ret < 0 && ret > -4096)
			return 0;
		struct file *f = file_from_fd(v.args[4]);
		if (!f)
			return 0;
		fill_file(s, f);
		off = blob_file(sc, off, f);
		break;
	}
	case K_MOUNT:
		off = blob_user_str(b, off, (void *)v.args[0]);
		off = blob_user_str(b, off, (void *)v.args[1]);
		off = blob_user_str(b, off, (void *)v.args[2]);
		break;
	case K_MEMFD:
	case K_INIT_MODULE:
		off = blob_user_str(b, off, (void *)(kind == K_MEMFD ? v.args[0] : v.args[2]));
		break;
	case K_FINIT_MODULE: {
		struct file *f = file_from_fd(v.args[0]);
		if (f)
			fill_file(s, f);
		off = blob_file(sc, off, f);
		break;
	}
	case K_CONNECT:
	case K_BIND:
		fill_tuple(&s->sk, sock_from_fd(v.args[0]));
		off = blob_user_bytes(b, off, (void *)v.args[1], v.args[2] & 0xff);
		break;
	case K_ACCEPT:
		if (ret < 0)
			fill_tuple(&s->sk, sock_from_fd(v.args[0]));
		else
			fill_tuple(&s->sk, sock_from_fd(ret));
		break;
	case K_LISTEN:
		fill_tuple(&s->sk, sock_from_fd(v.args[0]));
		break;
	case K_DNS_SEND:
	case K_DNS_RECV: {
		if (ret <= 0)
			return 0;
		struct sock *sk = sock_from_fd(v.args[0]);
		if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_UDP)
			return 0;
		fill_tuple(&s->sk, sk);
		const void *buf = (void *)v.args[1];
		const void *addr = (void *)v.args[4];
		__u64 len = ret;
		if (v.sub == S_SENDMMSG) {
			/* The first message; glibc sends A and AAAA as two. */
			struct mmsghdr m = {};
			if (bpf_probe_read_user(&m, sizeof(m), (void *)v.args[1]))
				return 0;
			struct iovec iov = {};
			if (bpf_probe_read_user(&iov, sizeof(iov), m.msg_hdr.msg_iov))
				return 0;
			buf = iov.iov_base;
			len = iov.iov_len;
			addr = m.msg_hdr.msg_name;
		}
		__u16 port = user_sockaddr_port(addr);
		if (!port)
			port = s->sk.rport;
		if (kind == K_DNS_RECV && !port)
			port = s->sk.rport;
		if (port != 53)
			return 0;
		if (len > DNS_MAX)
			len = DNS_MAX;
		off = blob_user_bytes(b, off, buf, len);
		off = blob_user_bytes(b, off, addr, addr ? SOCKADDR_MAX / 4 : 0);
		break;
	}
	case K_CAPSET: {
		struct {
			__u32 eff, prm, inh;
		} d[2] = {};
		bpf_probe_read_user(&d, sizeof(d), (void *)v.args[1]);
		s->args[0] = (__u64)d[0].eff | ((__u64)d[1].eff << 32);
		s->args[1] = (__u64)d[0].prm | ((__u64)d[1].prm << 32);
		s->args[2] = (__u64)d[0].inh | ((__u64)d[1].inh << 32);
		break;
	}
	default:
		/* setid, ptrace, process_vm_writev, bpf, unshare, setns, socket:
		 * the arguments say it all. */
		break;
	}
	emit(b, off, kind);
	return 0;
}

/* -------------------------------------------------------------------- dns */

/* DNS is read from packets, not from send and receive syscalls. cgroup_skb
 * programs on the root of the cgroup v2 tree see every datagram of every
 * process, whatever call sent it (sendto, sendmmsg, sendmsg, write,
 * io_uring), and a TCP segment costs them one protocol check. Hooks on the
 * send and receive syscalls cost every request of every TCP server (redis,
 * HTTP, databases) a file-table walk; they remain only as the fallback for
 * hosts without a cgroup v2 mount (the loader attaches them then).
 *
 * Queries are taken on egress, in the sending task's context. Answers
 * arrive in softirq context, where the current task is whoever was
 * interrupted, so the socket's owner is remembered by socket cookie when it
 * sends the query. */

struct dns_owner {
	__u32 tgid;
	__u32 tid;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, struct dns_owner);
} dns_owners SEC(".maps");

/* The packet programs' own record buffers, one per direction: an ingress
 * program runs in softirq context and can interrupt, on the same CPU, a
 * syscall program or an egress program halfway through building a record in
 * `scratch`. Tracing programs never nest on a CPU; these can. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct scratch);
} dns_scratch SEC(".maps");

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define DNS_PORT 53

static __always_inline int dns_skb(struct __sk_buff *skb, int egress)
{
	/* A connected socket (every TCP stream) has its peer's port in the
	 * socket: anything but 53 stops here, on one load and no helper call.
	 * The field holds the port in network order, shifted left 16 bits on
	 * little-endian kernels. */
	__u32 rp = skb->remote_port;
	__u16 peer = rp >> 16 ? rp >> 16 : rp;
	if (peer && peer != bpf_htons(DNS_PORT))
		return 1;
	struct bpf_sock *sk = skb->sk;
	if (!sk)
		return 1;
	sk = bpf_sk_fullsock(sk);
	if (!sk || sk->protocol != IPPROTO_UDP)
		return 1;
	__u32 l4;
	__u16 family;
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		__u8 vihl = 0, proto = 0;
		if (bpf_skb_load_bytes(skb, 0, &vihl, 1) || bpf_skb_load_bytes(skb, 9, &proto, 1))
			return 1;
		if (proto != IPPROTO_UDP)
			return 1;
		l4 = (vihl & 0xf) * 4;
		family = AF_INET;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		__u8 next = 0;
		if (bpf_skb_load_bytes(skb, 6, &next, 1) || next != IPPROTO_UDP)
			return 1;
		l4 = 40;
		family = AF_INET6;
	} else {
		return 1;
	}
	struct {
		__be16 sport, dport, len, csum;
	} udp = {};
	if (bpf_skb_load_bytes(skb, l4, &udp, sizeof(udp)))
		return 1;
	__u16 server_port = bpf_ntohs(egress ? udp.dport : udp.sport);
	if (server_port != DNS_PORT)
		return 1;
	__u64 cookie = bpf_get_socket_cookie(skb);
	struct dns_owner owner = {};
	if (egress) {
		__u64 id = bpf_get_current_pid_tgid();
		if (cfg_self_tgid && (id >> 32) == cfg_self_tgid)
			return 1;
		owner.tgid = id >> 32;
		owner.tid = (__u32)id;
		bpf_map_update_elem(&dns_owners, &cookie, &owner, BPF_ANY);
	} else {
		struct dns_owner *o = bpf_map_lookup_elem(&dns_owners, &cookie);
		/* No owner: the query left before the sensor started, or the
		 * socket is the sensor's own. */
		if (!o)
			return 1;
		owner = *o;
	}
	__u32 kind = egress ? K_DNS_SEND : K_DNS_RECV;
	__u32 slot = egress ? 0 : 1;
	struct scratch *sc = bpf_map_lookup_elem(&dns_scratch, &slot);
	if (!sc)
		return 1;
	__u8 *b = sc->b;
	start_rec(b, kind);
	struct rec_hdr *h = (void *)b;
	h->tgid = owner.tgid;
	h->tid = owner.tid;
	struct sc_body *s = (void *)(b + sizeof(struct rec_hdr));
	__builtin_memset(s, 0, sizeof(*s));
	s->sub = S_PACKET;
	struct sock_tuple *t = &s->sk;
	t->family = family;
	t->type = sk->type;
	t->protocol = IPPROTO_UDP;
	__u8 saddr[16] = {}, daddr[16] = {};
	if (family == AF_INET) {
		bpf_skb_load_bytes(skb, 12, saddr, 4);
		bpf_skb_load_bytes(skb, 16, daddr, 4);
	} else {
		bpf_skb_load_bytes(skb, 8, saddr, 16);
		bpf_skb_load_bytes(skb, 24, daddr, 16);
	}
	/* The tuple is the socket's view: local first. */
	if (egress) {
		t->lport = bpf_ntohs(udp.sport);
		t->rport = bpf_ntohs(udp.dport);
		__builtin_memcpy(t->laddr, saddr, 16);
		__builtin_memcpy(t->raddr, daddr, 16);
	} else {
		t->lport = bpf_ntohs(udp.dport);
		t->rport = bpf_ntohs(udp.sport);
		__builtin_memcpy(t->laddr, daddr, 16);
		__builtin_memcpy(t->raddr, saddr, 16);
	}
	__u32 off = sizeof(struct rec_hdr) + sizeof(struct sc_body);
	__u32 len = bpf_ntohs(udp.len);
	len = len > 8 ? len - 8 : 0;
	if (len > DNS_MAX)
		len = DNS_MAX;
	s->ret = len;
	if (len < 1 || bpf_skb_load_bytes(skb, l4 + 8, &b[bound(off + 2)], len))
		len = 0;
	put_len(b, off, len);
	off += 2 + len;
	off = blob_empty(b, off);
	emit(b, off, kind);
	return 1;
}

SEC("cgroup_skb/egress")
int dns_egress(struct __sk_buff *skb)
{
	return dns_skb(skb, 1);
}

SEC("cgroup_skb/ingress")
int dns_ingress(struct __sk_buff *skb)
{
	return dns_skb(skb, 0);
}

/* `nargs` matters: the kernel refuses (EACCES) to attach a program that reads
 * past the arguments a syscall tracepoint actually has. */
#define SYSCALL(name, nargs, kind, sub)                                            \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                \
	int enter_##name(struct trace_event_raw_sys_enter *ctx)                    \
	{                                                                          \
		return on_enter(ctx, nargs, kind, sub);                            \
	}                                                                          \
	SEC("tracepoint/syscalls/sys_exit_" #name)                                 \
	int exit_##name(struct trace_event_raw_sys_exit *ctx)                      \
	{                                                                          \
		return sys_exit_common(ctx, kind);                                      \
	}

SYSCALL(open, 3, K_OPEN, S_OPEN)
SYSCALL(openat, 4, K_OPEN, S_OPENAT)
SYSCALL(openat2, 4, K_OPEN, S_OPENAT2)
SYSCALL(creat, 2, K_OPEN, S_CREAT)
SYSCALL(rename, 2, K_RENAME, S_PLAIN)
SYSCALL(renameat, 4, K_RENAME, S_AT)
SYSCALL(renameat2, 5, K_RENAME, S_AT2)
SYSCALL(unlink, 1, K_UNLINK, S_PLAIN)
SYSCALL(unlinkat, 3, K_UNLINK, S_AT)
SYSCALL(rmdir, 1, K_UNLINK, S_L)
SYSCALL(link, 2, K_LINK, S_PLAIN)
SYSCALL(linkat, 5, K_LINK, S_AT)
SYSCALL(symlink, 2, K_SYMLINK, S_PLAIN)
SYSCALL(symlinkat, 3, K_SYMLINK, S_AT)
SYSCALL(chmod, 2, K_CHMOD, S_PLAIN)
SYSCALL(fchmod, 2, K_CHMOD, S_FD)
SYSCALL(fchmodat, 3, K_CHMOD, S_AT)
SYSCALL(chown, 3, K_CHOWN, S_PLAIN)
SYSCALL(lchown, 3, K_CHOWN, S_L)
SYSCALL(fchown, 3, K_CHOWN, S_FD)
SYSCALL(fchownat, 5, K_CHOWN, S_AT)
SYSCALL(mmap, 6, K_MMAP, S_NONE)
SYSCALL(mount, 5, K_MOUNT, S_NONE)
SYSCALL(memfd_create, 2, K_MEMFD, S_NONE)
SYSCALL(connect, 3, K_CONNECT, S_NONE)
SYSCALL(accept, 3, K_ACCEPT, S_ACCEPT)
SYSCALL(accept4, 4, K_ACCEPT, S_ACCEPT4)
SYSCALL(bind, 3, K_BIND, S_NONE)
SYSCALL(listen, 2, K_LISTEN, S_NONE)
SYSCALL(socket, 3, K_SOCKET, S_NONE)
SYSCALL(sendto, 6, K_DNS_SEND, S_SENDTO)
SYSCALL(sendmmsg, 4, K_DNS_SEND, S_SENDMMSG)
SYSCALL(recvfrom, 6, K_DNS_RECV, S_RECVFROM)
SYSCALL(setuid, 1, K_SETID, S_SETUID)
SYSCALL(setgid, 1, K_SETID, S_SETGID)
SYSCALL(setreuid, 2, K_SETID, S_SETREUID)
SYSCALL(setregid, 2, K_SETID, S_SETREGID)
SYSCALL(setresuid, 3, K_SETID, S_SETRESUID)
SYSCALL(setresgid, 3, K_SETID, S_SETRESGID)
SYSCALL(setfsuid, 1, K_SETID, S_SETFSUID)
SYSCALL(setfsgid, 1, K_SETID, S_SETFSGID)
SYSCALL(capset, 2, K_CAPSET, S_NONE)
SYSCALL(ptrace, 4, K_PTRACE, S_NONE)
SYSCALL(process_vm_writev, 6, K_PVM_WRITEV, S_NONE)
SYSCALL(init_module, 3, K_INIT_MODULE, S_NONE)
SYSCALL(finit_module, 3, K_FINIT_MODULE, S_NONE)
SYSCALL(bpf, 3, K_BPF, S_NONE)
SYSCALL(unshare, 1, K_UNSHARE, S_NONE)
SYSCALL(setns, 2, K_SETNS, S_NONE)
