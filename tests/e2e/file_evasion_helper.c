/* Writers for test_file_evasion.py that Python cannot be: a chroot'ed writer and an io_uring
 * writer (raw syscalls, no liburing).
 *   helper chroot DIR NAME   chroot(DIR), then create /NAME and write to it
 *   helper uring PATH        create PATH through io_uring (IORING_OP_OPENAT)
 *   helper openat2 PATH HOW  create PATH with openat2(), its struct open_how in a page of
 *                            file HOW that is mapped but never touched (so not present when
 *                            the syscall starts: a tracer that cannot fault cannot read it)
 * Prints "done" after the mutation, then waits for stdin to close (so a kill decided after
 * the syscall can still land), then "survived". */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/io_uring.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static void wait_stdin(void) {
  char c;
  printf("done\n");
  fflush(stdout);
  while (read(0, &c, 1) > 0) {
  }
  printf("survived\n");
}

static int do_chroot(const char *dir, const char *name) {
  if (chroot(dir) != 0 || chdir("/") != 0) {
    perror("chroot");
    return 2;
  }
  int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    perror("open");
    return 2;
  }
  if (write(fd, "x", 1) != 1) return 2;
  close(fd);
  wait_stdin();
  return 0;
}

static int do_uring(const char *path) {
  struct io_uring_params p;
  memset(&p, 0, sizeof(p));
  int ring = (int)syscall(__NR_io_uring_setup, 4, &p);
  if (ring < 0) {
    perror("io_uring_setup");
    return 2;
  }
  char *sq = mmap(0, p.sq_off.array + p.sq_entries * sizeof(unsigned), PROT_READ | PROT_WRITE,
                  MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQ_RING);
  char *cq = mmap(0, p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe),
                  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_CQ_RING);
  struct io_uring_sqe *sqes = mmap(0, p.sq_entries * sizeof(struct io_uring_sqe),
                                   PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring,
                                   IORING_OFF_SQES);
  if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED) {
    perror("mmap");
    return 2;
  }
  unsigned *tail = (unsigned *)(sq + p.sq_off.tail);
  unsigned mask = *(unsigned *)(sq + p.sq_off.ring_mask);
  unsigned *array = (unsigned *)(sq + p.sq_off.array);
  unsigned t = *tail, idx = t & mask;
  memset(&sqes[idx], 0, sizeof(sqes[idx]));
  sqes[idx].opcode = IORING_OP_OPENAT;
  sqes[idx].fd = AT_FDCWD;
  sqes[idx].addr = (unsigned long)path;
  sqes[idx].open_flags = O_WRONLY | O_CREAT;
  sqes[idx].len = 0644;
  array[idx] = idx;
  __atomic_store_n(tail, t + 1, __ATOMIC_RELEASE);
  if (syscall(__NR_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0) {
    perror("io_uring_enter");
    return 2;
  }
  unsigned head = *(unsigned *)(cq + p.cq_off.head);
  unsigned cmask = *(unsigned *)(cq + p.cq_off.ring_mask);
  struct io_uring_cqe *cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
  printf("res %d\n", cqes[head & cmask].res);
  wait_stdin();
  return 0;
}

static int do_openat2(const char *path, const char *how_file) {
  struct open_how how = {.flags = O_WRONLY | O_CREAT | O_TRUNC, .mode = 0644, .resolve = 0};
  int hf = open(how_file, O_CREAT | O_RDWR | O_TRUNC, 0600);
  if (hf < 0 || write(hf, &how, sizeof how) != (ssize_t)sizeof how) {
    perror("how file");
    return 2;
  }
  /* the page cache has it; this mapping's page table entry does not until first touched */
  void *m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, hf, 0);
  if (m == MAP_FAILED) {
    perror("mmap");
    return 2;
  }
  long fd = syscall(SYS_openat2, AT_FDCWD, path, m, sizeof how);
  if (fd < 0) {
    perror("openat2");
    return 2;
  }
  if (write((int)fd, "x", 1) != 1) perror("write");
  wait_stdin();
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "openat2") == 0) return do_openat2(argv[2], argv[3]);
  if (argc == 4 && strcmp(argv[1], "chroot") == 0) return do_chroot(argv[2], argv[3]);
  if (argc == 3 && strcmp(argv[1], "uring") == 0) return do_uring(argv[2]);
  fprintf(stderr, "usage: helper chroot DIR NAME | helper uring PATH\n");
  return 64;
}
