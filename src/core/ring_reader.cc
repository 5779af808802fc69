#include "core/ring_reader.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

namespace cgscope {

namespace {

// The kernel's layout (kernel/bpf/ringbuf.c): one page with the consumer position
// (the only part user space may write), one with the producer position, then the
// data, which the kernel maps twice in a row so that a record that wraps around
// the end reads as one piece.
uint64_t load_acquire(const void* p) { return __atomic_load_n(static_cast<const uint64_t*>(p), __ATOMIC_ACQUIRE); }

}  // namespace

Result<RingReader> RingReader::open(int map_fd, OnRecord on_record) {
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(map_fd, &info, &len) != 0) return fail_errno("reading the ring buffer's size", errno);
  if (info.type != BPF_MAP_TYPE_RINGBUF) return fail("the map to read is not a ring buffer");
  uint64_t size = info.max_entries;
  if (size == 0 || (size & (size - 1)) != 0) return fail("the ring buffer's size is not a power of two");

  RingReader r;
  r.on_record_ = std::move(on_record);
  r.page_ = size_t(sysconf(_SC_PAGESIZE));
  r.mask_ = size - 1;
  // While a long batch is read, publish every 64 KiB (or an eighth of a small
  // ring): seldom enough that the line stays put, often enough that a producer
  // which forces a wake-up above some fill level (trace.bpf.c) stops doing so
  // soon after the reader is awake. Every 2 MiB cost more (perf) than the
  // per-record store: records kept forcing wake-ups while a batch was read.
  r.publish_bytes_ = std::min<uint64_t>(size / 8, 64 << 10);
  void* cons = mmap(nullptr, r.page_, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
  if (cons == MAP_FAILED) return fail_errno("mapping the ring buffer's consumer page", errno);
  r.cons_page_ = cons;
  void* prod = mmap(nullptr, r.page_ + 2 * size, PROT_READ, MAP_SHARED, map_fd, off_t(r.page_));
  if (prod == MAP_FAILED) return fail_errno("mapping the ring buffer's data", errno);
  r.prod_area_ = prod;
  r.published_ = load_acquire(r.cons_page_);

  r.epoll_.reset(epoll_create1(EPOLL_CLOEXEC));
  if (!r.epoll_) return fail_errno("creating an epoll instance for the ring buffer", errno);
  epoll_event ev{};
  ev.events = EPOLLIN;
  if (epoll_ctl(r.epoll_.get(), EPOLL_CTL_ADD, map_fd, &ev) != 0)
    return fail_errno("waiting on the ring buffer with epoll", errno);
  return r;
}

RingReader::RingReader(RingReader&& o) noexcept { *this = std::move(o); }

RingReader& RingReader::operator=(RingReader&& o) noexcept {
  if (this == &o) return *this;
  unmap();
  on_record_ = std::move(o.on_record_);
  epoll_ = std::move(o.epoll_);
  cons_page_ = std::exchange(o.cons_page_, nullptr);
  prod_area_ = std::exchange(o.prod_area_, nullptr);
  page_ = o.page_;
  mask_ = o.mask_;
  published_ = o.published_;
  publish_bytes_ = o.publish_bytes_;
  return *this;
}

RingReader::~RingReader() { unmap(); }

void RingReader::unmap() {
  if (cons_page_) munmap(cons_page_, page_);
  if (prod_area_) munmap(prod_area_, page_ + 2 * (mask_ + 1));
  cons_page_ = prod_area_ = nullptr;
}

void RingReader::publish(uint64_t pos) {
  if (pos == published_) return;
  // Release: the producer may reuse the space only after the records in it were read.
  __atomic_store_n(static_cast<uint64_t*>(cons_page_), pos, __ATOMIC_RELEASE);
  published_ = pos;
}

size_t RingReader::drain() {
  const auto* data = static_cast<const uint8_t*>(prod_area_) + page_;
  uint64_t pos = published_;
  // One ring's worth at most, so that a producer as fast as the callback cannot
  // keep the caller from its other duties (flushing, signals).
  const uint64_t stop = pos + mask_ + 1;
  size_t n = 0;
  for (;;) {
    for (uint64_t end = load_acquire(prod_area_); pos < end && pos < stop; end = load_acquire(prod_area_)) {
      while (pos < end) {
        const uint8_t* hdr = data + (pos & mask_);
        uint32_t len = __atomic_load_n(reinterpret_cast<const uint32_t*>(hdr), __ATOMIC_ACQUIRE);
        if (len & BPF_RINGBUF_BUSY_BIT) {  // reserved, not yet committed
          publish(pos);
          return n;
        }
        uint32_t body = len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
        if (!(len & BPF_RINGBUF_DISCARD_BIT)) {
          on_record_(std::span<const uint8_t>(hdr + BPF_RINGBUF_HDR_SZ, body));
          n++;
        }
        pos += (uint64_t(body) + BPF_RINGBUF_HDR_SZ + 7) & ~uint64_t(7);
        if (pos - published_ >= publish_bytes_) publish(pos);
      }
    }
    publish(pos);
    // A producer that wakes the reader only when it has caught up (flags 0)
    // saw the old position if it committed just before this publish: look once
    // more, after a full fence, rather than sleep through its record until the
    // wait times out.
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (pos >= stop || load_acquire(prod_area_) <= pos) return n;
  }
}

Result<size_t> RingReader::poll(int timeout_ms) {
  epoll_event ev{};
  if (timeout_ms != 0 && epoll_wait(epoll_.get(), &ev, 1, timeout_ms) < 0 && errno != EINTR)
    return fail_errno("waiting for the ring buffer", errno);
  return drain();
}

}  // namespace cgscope
