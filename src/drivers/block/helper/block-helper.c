/*
 * flash-station-block-helper: the only part of Flash Station that runs as root on a desktop (through pkexec and the
 * polkit action io.flashstation.block.write). It takes whole-disk device paths on its command line and nothing else;
 * it opens each with O_DIRECT | O_EXCL (which the kernel refuses while any partition is mounted, used as swap or held
 * by LVM/dm/RAID: the machine's own disks cannot be opened this way) and then does what framed requests on stdin ask:
 * positional writes and reads, zeroing, fsync, BLKRRPART. It never opens an image, runs no shell and reads no
 * environment. The station (unprivileged) decodes the image and decides what goes where (the first MiB last).
 *
 * Protocol (little-endian; docs/block.md, src/transports/block-helper-protocol.ts is the other side):
 *   hello (helper -> station): "FSBH" u8 version=1 u8 count, then per device: i32 status (0 or -errno),
 *     u32 sector size, u64 size.
 *   request (station -> helper), 24 bytes: u8 op, u8 device, u16 0, u32 id, u64 offset, u64 length; a 'W' request is
 *     followed by `length` bytes of data. ops: 'W' write, 'R' read, 'Z' zero (BLKZEROOUT), 'S' fsync,
 *     'P' reread the partition table, 'C' close the device.
 *   reply (helper -> station), 12 bytes: u32 id, i32 result (>= 0, or -errno), u32 n; a successful 'R' is followed by
 *     n bytes. Requests are answered in order. A malformed request ends the helper (exit 2); end of input ends it (0).
 * Build: cc -O2 -Wall -Wextra -o flash-station-block-helper block-helper.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define MAX_DEVICES 16
#define MAX_IO (16u << 20) /* largest write or read per request */
#define ALIGN 4096

struct dev {
  int fd;
  int status;
  uint32_t sector;
  uint64_t size;
};

static struct dev devs[MAX_DEVICES];

static void die(const char *why) {
  fprintf(stderr, "flash-station-block-helper: %s\n", why);
  exit(2);
}

static int read_full(int fd, void *buf, size_t n) {
  uint8_t *p = buf;
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r == 0) return 0;
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += r;
    n -= (size_t)r;
  }
  return 1;
}

static void write_full(int fd, const void *buf, size_t n) {
  const uint8_t *p = buf;
  while (n > 0) {
    ssize_t r = write(fd, p, n);
    if (r < 0) {
      if (errno == EINTR) continue;
      exit(3); /* the station went away */
    }
    p += r;
    n -= (size_t)r;
  }
}

static void put32(uint8_t *b, uint32_t v) {
  for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *b, uint64_t v) {
  for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *b) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--) v = (v << 8) | b[i];
  return v;
}
static uint64_t get64(const uint8_t *b) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | b[i];
  return v;
}

/*
 * A whole disk under /dev: a block device that sysfs does not call a partition. 0, or -errno. Symlinks (such as
 * /dev/disk/by-id/...) are resolved first, and what they resolve to must be under /dev too (not /dev/shm, which users
 * may write).
 */
static int check_whole_disk(const char *path, char *real, struct stat *st) {
  if (strncmp(path, "/dev/", 5) != 0) return -EINVAL;
  if (realpath(path, real) == NULL) return -errno;
  if (strncmp(real, "/dev/", 5) != 0 || strncmp(real, "/dev/shm/", 9) == 0 || strncmp(real, "/dev/mqueue/", 12) == 0) return -EINVAL;
  if (stat(real, st) != 0) return -errno;
  if (!S_ISBLK(st->st_mode)) return -ENOTBLK;
  char sys[96];
  snprintf(sys, sizeof sys, "/sys/dev/block/%u:%u/partition", major(st->st_rdev), minor(st->st_rdev));
  if (access(sys, F_OK) == 0) return -EISDIR; /* a partition, not a whole disk */
  return 0;
}

static void open_device(struct dev *d, const char *path) {
  struct stat st, st2;
  d->fd = -1;
  d->sector = 512;
  d->size = 0;
  char real[PATH_MAX];
  d->status = check_whole_disk(path, real, &st);
  if (d->status != 0) return;
  int fd = open(real, O_RDWR | O_DIRECT | O_EXCL | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
  if (fd < 0) {
    d->status = -errno;
    return;
  }
  /* The node opened is the one checked (no swap of the path in between). */
  if (fstat(fd, &st2) != 0 || !S_ISBLK(st2.st_mode) || st2.st_rdev != st.st_rdev) {
    close(fd);
    d->status = -EINVAL;
    return;
  }
  int ss = 0;
  uint64_t size = 0;
  if (ioctl(fd, BLKSSZGET, &ss) != 0 || ioctl(fd, BLKGETSIZE64, &size) != 0 || ss <= 0) {
    d->status = -errno;
    close(fd);
    return;
  }
  d->fd = fd;
  d->sector = (uint32_t)ss;
  d->size = size;
}

static void reply(uint32_t id, int32_t result, const void *data, uint32_t n) {
  uint8_t h[12];
  put32(h, id);
  put32(h + 4, (uint32_t)result);
  put32(h + 8, n);
  write_full(1, h, sizeof h);
  if (n) write_full(1, data, n);
}

static int32_t check_range(const struct dev *d, uint64_t offset, uint64_t length) {
  if (d->fd < 0) return -EBADF;
  if (offset > d->size || length > d->size - offset) return -ENOSPC;
  if (offset % d->sector != 0 || length % d->sector != 0) return -EINVAL;
  return 0;
}

int main(int argc, char **argv) {
  int count = argc - 1;
  if (count < 1 || count > MAX_DEVICES) die("usage: flash-station-block-helper DEVICE... (whole disks, at most 16)");
  for (int i = 0; i < count; i++) open_device(&devs[i], argv[i + 1]);

  uint8_t hello[6 + MAX_DEVICES * 16];
  memcpy(hello, "FSBH", 4);
  hello[4] = 1;
  hello[5] = (uint8_t)count;
  for (int i = 0; i < count; i++) {
    uint8_t *p = hello + 6 + i * 16;
    put32(p, (uint32_t)devs[i].status);
    put32(p + 4, devs[i].sector);
    put64(p + 8, devs[i].size);
  }
  write_full(1, hello, 6 + (size_t)count * 16);

  void *buf = NULL;
  if (posix_memalign(&buf, ALIGN, MAX_IO) != 0) die("out of memory");
  for (;;) {
    uint8_t h[24];
    int got = read_full(0, h, sizeof h);
    if (got == 0) break;
    if (got < 0) die("cannot read the request pipe");
    uint8_t op = h[0], di = h[1];
    uint32_t id = get32(h + 4);
    uint64_t offset = get64(h + 8), length = get64(h + 16);
    if (di >= count) die("request for a device that was not given");
    struct dev *d = &devs[di];
    int32_t r = 0;
    switch (op) {
      case 'W':
        if (length > MAX_IO) die("write larger than 16 MiB");
        if (length > 0 && read_full(0, buf, (size_t)length) != 1) die("the request pipe ended inside a write");
        r = check_range(d, offset, length);
        for (uint64_t done = 0; r == 0 && done < length;) {
          ssize_t n = pwrite(d->fd, (uint8_t *)buf + done, (size_t)(length - done), (off_t)(offset + done));
          if (n < 0 && errno == EINTR) continue;
          if (n <= 0) r = n < 0 ? -errno : -EIO;
          else done += (uint64_t)n;
        }
        reply(id, r, NULL, 0);
        break;
      case 'R': {
        if (length > MAX_IO) die("read larger than 16 MiB");
        r = check_range(d, offset, length);
        uint64_t done = 0;
        while (r == 0 && done < length) {
          ssize_t n = pread(d->fd, (uint8_t *)buf + done, (size_t)(length - done), (off_t)(offset + done));
          if (n < 0 && errno == EINTR) continue;
          if (n < 0) r = -errno;
          if (n <= 0) break;
          done += (uint64_t)n;
        }
        if (r == 0) r = (int32_t)done;
        reply(id, r, buf, r > 0 ? (uint32_t)r : 0);
        break;
      }
      case 'Z': {
        r = check_range(d, offset, length);
        uint64_t range[2] = {offset, length};
        if (r == 0 && length > 0 && ioctl(d->fd, BLKZEROOUT, range) != 0) r = -errno;
        reply(id, r, NULL, 0);
        break;
      }
      case 'S':
        r = d->fd < 0 ? -EBADF : fsync(d->fd) == 0 ? 0 : -errno;
        reply(id, r, NULL, 0);
        break;
      case 'P':
        r = d->fd < 0 ? -EBADF : ioctl(d->fd, BLKRRPART, 0) == 0 ? 1 : 0;
        reply(id, r, NULL, 0);
        break;
      case 'C':
        if (d->fd >= 0) close(d->fd);
        d->fd = -1;
        reply(id, 0, NULL, 0);
        break;
      default:
        die("unknown request");
    }
  }
  for (int i = 0; i < count; i++)
    if (devs[i].fd >= 0) close(devs[i].fd);
  return 0;
}
