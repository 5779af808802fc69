// Reads a BPF ring buffer map (BPF_MAP_TYPE_RINGBUF) through its own mapping of it.
//
// Why not libbpf's ring_buffer: it stores the consumer position after every record.
// That position sits on a page the kernel's producer reads on every reservation, so
// with the producer on one CPU and the reader on another each record moves that
// cache line across: in a write storm the producer's first read of it was 8.6% of
// the traced program's time (perf, bench/trace_storm.sh ONLY=write). This reader
// hands each record to the callback in place, as libbpf does, and publishes how far
// it has read once per batch (and every `publish_bytes` within a long one), so the
// producer sees at most that much less free space.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

#include "core/result.h"
#include "core/unique_fd.h"

namespace cgscope {

class RingReader {
 public:
  // The record, valid only during the call.
  using OnRecord = std::function<void(std::span<const uint8_t>)>;

  // map_fd stays the caller's: it must outlive the reader.
  static Result<RingReader> open(int map_fd, OnRecord on_record);

  RingReader(RingReader&& o) noexcept;
  RingReader& operator=(RingReader&& o) noexcept;
  RingReader(const RingReader&) = delete;
  RingReader& operator=(const RingReader&) = delete;
  ~RingReader();

  // Waits up to timeout_ms (0: not at all) for the producer's wake-up, then reads
  // every committed record; returns how many were handed over. Records sent without
  // a wake-up (BPF_RB_NO_WAKEUP) are read too: the wait only bounds the latency.
  Result<size_t> poll(int timeout_ms);
  // Reads every record committed so far, in order. Stops at the first one still
  // being written (its producer has not committed it): the next call goes on there.
  size_t drain();

  size_t size() const { return mask_ + 1; }

 private:
  RingReader() = default;
  void publish(uint64_t pos);
  void unmap();

  OnRecord on_record_;
  UniqueFd epoll_;
  void* cons_page_ = nullptr;  // the consumer position: ours to write
  void* prod_area_ = nullptr;  // producer position page, then the data mapped twice
  size_t page_ = 0;
  uint64_t mask_ = 0;
  uint64_t published_ = 0;
  uint64_t publish_bytes_ = 0;
};

}  // namespace cgscope
