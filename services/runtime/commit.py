"""When to commit: a frozen policy and the offsets it is waiting to commit."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CommitPolicy:
    """Commit after ``every_messages`` acknowledged records or ``every_seconds``, whichever first.

    Commits are also forced on partition revocation and on shutdown, whatever the policy says.
    """

    every_messages: int
    every_seconds: float


TopicPartitionKey = tuple[str, int]


@dataclass
class PendingOffsets:
    """Next offsets to commit per partition, for records whose outputs the broker acknowledged."""

    policy: CommitPolicy
    last_commit_at: float
    offsets: dict[TopicPartitionKey, int] = field(default_factory=dict)
    since_commit: int = 0

    def acknowledge(self, topic: str, partition: int, next_offset: int, count: int) -> None:
        key = (topic, partition)
        # Offsets only move forward: a redelivered older batch must not rewind a commit.
        if next_offset > self.offsets.get(key, -1):
            self.offsets[key] = next_offset
        self.since_commit += count

    def due(self, now: float) -> bool:
        if not self.offsets:
            return False
        return (
            self.since_commit >= self.policy.every_messages
            or now - self.last_commit_at >= self.policy.every_seconds
        )

    def take(
        self, now: float, owned: set[TopicPartitionKey] | None = None
    ) -> dict[TopicPartitionKey, int]:
        """Offsets to commit now (only ``owned`` partitions, if given); resets the counters."""
        taken = {k: v for k, v in self.offsets.items() if owned is None or k in owned}
        self.offsets.clear()
        self.since_commit = 0
        self.last_commit_at = now
        return taken

    def forget(self, partitions: set[TopicPartitionKey]) -> None:
        for key in partitions:
            self.offsets.pop(key, None)


@dataclass
class OutOfOrderOffsets:
    """One partition's records handed out for work that may finish in any order.

    The committable position is the first record not finished yet (or one past the last):
    a record finished after an unfinished one is read again after a restart, never skipped.
    """

    # offset -> finished; insertion order is offset order (records arrive in order).
    records: dict[int, bool] = field(default_factory=dict)
    finished_count: int = 0

    def add(self, offset: int) -> None:
        self.records.setdefault(offset, False)

    def finish(self, offset: int) -> None:
        if offset in self.records and not self.records[offset]:
            self.records[offset] = True
            self.finished_count += 1

    def pending(self) -> int:
        return len(self.records) - self.finished_count

    def advance(self) -> tuple[int, int] | None:
        """Drops the finished prefix; returns (next offset to commit, records dropped), or
        None when the first record is still unfinished."""
        dropped = 0
        last = -1
        for offset, done in self.records.items():
            if not done:
                break
            last = offset
            dropped += 1
        if not dropped:
            return None
        for offset in list(self.records)[:dropped]:
            del self.records[offset]
        self.finished_count -= dropped
        return last + 1, dropped
