// JsonWriter and TableWriter keep parts of the last line as text: whatever the
// sequence of events, their lines must be exactly append_json's and
// append_table_row's.
#include "trace/stream_writers.h"

#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "trace/containers.h"
#include "trace/decoder.h"
#include "trace/schema.h"

namespace cgscope::trace {
namespace {

// A getppid, then the same with each identity field changed in turn (and back),
// a failed call, and an unknown syscall number.
std::vector<cgs_record> records() {
  std::vector<cgs_record> recs;
  cgs_record base{};
  base.nr = 110;  // getppid
  base.pid = 42;
  base.tid = 42;
  base.ppid = 1;
  base.cgroup_id = 7;
  base.size = sizeof(cgs_record);
  base.ret = 1;
  std::strcpy(base.comm, "storm");
  for (int i = 0; i < 3; i++) recs.push_back(base);
  auto changed = [&](auto edit) {
    cgs_record r = base;
    edit(r);
    recs.push_back(r);
    recs.push_back(r);
    recs.push_back(base);
  };
  changed([](cgs_record& r) { r.pid = 43; });
  changed([](cgs_record& r) { r.tid = 44; });
  changed([](cgs_record& r) { r.ppid = 2; });
  changed([](cgs_record& r) { r.uid = 1000; });
  changed([](cgs_record& r) { r.gid = 1000; });
  changed([](cgs_record& r) { r.cgroup_id = 8; });
  changed([](cgs_record& r) { r.nr = 39; });   // getpid
  changed([](cgs_record& r) { r.nr = 499; });  // not in the table: syscall_499
  changed([](cgs_record& r) { std::strcpy(r.comm, "stormy"); });
  changed([](cgs_record& r) { std::strcpy(r.comm, "a\"b\xff"); });  // escaped, with comm_raw
  changed([](cgs_record& r) { r.ret = -2; });                      // not identity: an error
  return recs;
}

// Timestamps: the same second, the next one, the first second of the epoch.
const std::vector<uint64_t> kTimes = {1796197463372805477ull, 1796197463000000001ull, 1796197464000000000ull,
                                      1796197463999999999ull, 999999999ull,           5ull,
                                      1796197463372805477ull};

template <class Check>
size_t for_each_event(Check&& check) {
  ContainerInfo docker{"3f4e5d6c7b8a9f0e1d2c3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c1b2a3f4e", "docker", "", "", false};
  size_t n = 0;
  for (const cgs_record& r : records()) {
    for (uint64_t t : kTimes) {
      for (const ContainerInfo* c : std::vector<const ContainerInfo*>{nullptr, &docker}) {
        RecordView view;
        view.hdr = &r;
        EventView ev{&view, Schema::get().find(r.nr), c, r.ret, true, t};
        check(ev, n);
        n++;
      }
    }
  }
  return n;
}

TEST(StreamWriters, EveryJsonLineEqualsTheStatelessWritersWhateverChangesBetweenEvents) {
  JsonWriter w;
  size_t n = for_each_event([&](const EventView& ev, size_t i) {
    std::string kept, plain;
    w.append(kept, ev);
    append_json(plain, ev);
    ASSERT_EQ(kept, plain) << "event " << i;
  });
  EXPECT_EQ(n, records().size() * kTimes.size() * 2);
}

TEST(StreamWriters, EveryTableRowEqualsTheStatelessWritersAtEveryWidth) {
  // 0: a file (rows whole); 80: the compact layout, rows cut; 200: the wide one.
  for (size_t width : {size_t(0), size_t(80), size_t(200), size_t(80), size_t(0)}) {
    TableWriter w;
    for_each_event([&](const EventView& ev, size_t i) {
      std::string kept = "x", plain = "x";  // a row need not start the buffer
      w.append(kept, ev, width);
      append_table_row(plain, ev, width);
      ASSERT_EQ(kept, plain) << "event " << i << " width " << width;
    });
  }
  // One writer across widths: the layout is part of what it keeps.
  TableWriter w;
  for_each_event([&](const EventView& ev, size_t i) {
    size_t width = i % 3 == 0 ? 0 : i % 3 == 1 ? 80 : 200;
    std::string kept, plain;
    w.append(kept, ev, width);
    append_table_row(plain, ev, width);
    ASSERT_EQ(kept, plain) << "event " << i << " width " << width;
  });
}

}  // namespace
}  // namespace cgscope::trace
