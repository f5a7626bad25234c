// A nested supervisor as its parent sees it: a process of our own program,
// handed its subtree as a tree file on an fd, with a channel both ways. Up
// the channel come snapshots of its state (the same STATUS value the control
// socket serves), sent whenever the subtree changes; down it go the control
// socket's commands for children below it (RESTART, STOP, START, SIGNAL, by
// path) and a new subtree (RELOAD). The snapshot is what the parent answers from, so STATUS
// of the whole tree never waits on a child process.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <unordered_map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "child_log.hpp"
#include "fd.hpp"
#include "report.hpp"
#include "resp.hpp"
#include "tree_events.hpp"
#include "uv.hpp"

namespace seq::sup {

// Memory given back to the system a moment after a large snapshot: one of
// a thousand children needs megabytes while it is read or written, which
// malloc keeps for ever unless told (malloc_trim). Once a second at most.
class TrimSoon {
public:
    explicit TrimSoon(uv_loop_t* loop);
    // After handling `bytes` of snapshot.
    void after(std::size_t bytes);

private:
    uv::Timer timer_;
};

// The answer to a command, once it is done: nullopt, or why not as an error
// reply. Whoever waits must outlive nothing: a callback that may be called
// after its waiter is gone holds a weak_ptr to it.
using Reply = std::function<void(std::optional<std::string> why)>;

class SubtreeLink {
public:
    // `on_event`: each line and each death below it that it sends up
    // (Uplink::line, Uplink::death), an array whose first word says which.
    using Event = std::function<void(const resp::Value& event)>;
    SubtreeLink(uv_loop_t* loop, Fd channel, std::string path, std::function<void()> on_snapshot, Event on_event = {});
    // Whatever still waits for an answer is told the nested supervisor ended.
    ~SubtreeLink();
    SubtreeLink(const SubtreeLink&) = delete;
    SubtreeLink& operator=(const SubtreeLink&) = delete;
    // The latest snapshot, if one came.
    const TreeReport* snapshot() const { return snapshot_ ? &*snapshot_ : nullptr; }
    std::uint64_t received_ms() const { return received_ms_; }
    // Hands the nested supervisor a command for a child below it (a path
    // relative to it); nullopt once sent, else why not, as an error reply.
    // `done`, if given, gets the answer once the command is carried out.
    std::optional<std::string> command(std::initializer_list<std::string_view> args, Reply done = {});
    std::optional<std::string> command(std::span<const std::string_view> args, Reply done = {});

    // At its death, before the link goes: what it sent last (its last
    // deaths and events; a wakeup reads 16 KiB) read to the end and told
    // as events. Snapshots and answers are left: it is gone.
    void drain();

private:
    void on_events(int status, int events);
    void on_readable();
    // An answer ([id, reply]); false if it is not one.
    bool answer(const resp::Value& v);
    // Each command still waiting is told `why`.
    void fail_waiting(const std::string& why);
    // Queues a command and writes what the socket takes now; the rest goes
    // when it is writable. Never blocks: a nested supervisor that is stopped
    // holds up its own commands, never its parent.
    std::optional<std::string> send(std::span<const std::string_view> args, Reply done);
    void flush();
    void close();

    uv_loop_t* loop_;
    Fd fd_;
    uv::Poll poll_;
    std::string path_;
    std::string in_;
    std::string out_;
    resp::ReplyParser parser_;
    std::optional<TreeReport> snapshot_;
    std::function<void()> on_snapshot_;
    Event on_event_;
    std::uint64_t received_ms_ = 0;
    std::uint64_t next_id_ = 1;
    TrimSoon trim_;
    std::unordered_map<std::uint64_t, Reply> waiting_;  // commands sent, by id, whose answer someone awaits
};

// The nested supervisor's end: sends a snapshot whenever `generation` moves,
// and hands each command it reads to `command`, with the Reply that answers it.
class Uplink {
public:
    using Snapshot = std::function<TreeReport()>;
    using Command = std::function<void(std::span<const std::string_view> args, Reply reply)>;
    using Generation = std::function<std::uint64_t()>;
    Uplink(uv_loop_t* loop, Fd channel, Snapshot snapshot, Generation generation, Command command);
    // A line a child below us wrote, a death of one: sent up as they come
    // (the parent keeps them for its logs, why and followers). Bounded: past
    // events_max waiting, a parent that does not read loses them, counted.
    static constexpr std::size_t events_max = 1 << 20;
    void line(std::string_view path, const LogLine& l);
    void death(std::string_view path, const Death& d);
    void event(const TreeEvent& e);
    // At our end, once the loop is over: what is still unsent (the last
    // deaths, that we gave up), written while the parent reads, for at
    // most a second.
    void finish();

    ~Uplink();
    Uplink(const Uplink&) = delete;
    Uplink& operator=(const Uplink&) = delete;

private:
    void on_prepare();
    // Kept for on_prepare, which sends it behind the snapshot that shows it done.
    void answer(std::string_view id, const std::optional<std::string>& why);
    void on_events(int status, int events);
    void on_readable();
    // Writes what it can of pending_ without blocking; false if the parent is gone.
    bool flush();

    Fd fd_;
    uv::Poll poll_;
    uv::Prepare prepare_;
    Snapshot snapshot_;
    Generation generation_;
    Command command_;
    std::uint64_t sent_ = ~std::uint64_t{0};
    // One snapshot at most on its way: a parent that does not read (stopped,
    // say) holds up our snapshots, never our loop.
    std::string pending_;
    std::string answers_;  // answers of this turn of the loop, sent before it sleeps
    std::string events_;   // lines and deaths of this turn of the loop
    std::size_t snapshot_left_ = 0;  // bytes of pending_ up to the end of the latest snapshot in it
    std::uint64_t events_dropped_ = 0;
    std::string in_;
    resp::RequestParser parser_;
    std::vector<std::string_view> args_;
    TrimSoon trim_;
    // What a Reply handed out holds: it answers only while we live.
    std::shared_ptr<Uplink*> self_;
};

}  // namespace seq::sup
