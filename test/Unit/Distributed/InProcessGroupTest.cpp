//===- InProcessGroupTest.cpp - the in-process communicator group ---------===//
//
// Ranks run as threads: all-gather puts every rank's block in rank order on
// every rank, collective after collective (each one a barrier); block sizes
// that differ, a rank that aborts and a rank that never comes are reported
// as errors on the others instead of hanging.
//
//===----------------------------------------------------------------------===//

#include "dilattn/Distributed/Communicator.h"
#include "dilattn/Support/Error.h"

#include "gtest/gtest.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

using namespace dilattn::distributed;

namespace {

using Group = std::vector<std::unique_ptr<Communicator>>;

/// Runs body(rank) on one thread per rank and returns each rank's error text
/// ("" for success).
template <typename Body>
std::vector<std::string> runRanks(Group &group, Body body) {
  std::vector<std::string> errors(group.size());
  std::vector<std::thread> threads;
  for (size_t rank = 0; rank < group.size(); ++rank)
    threads.emplace_back([&, rank] {
      if (llvm::Error error = body(*group[rank]))
        errors[rank] = llvm::toString(std::move(error));
    });
  for (std::thread &thread : threads)
    thread.join();
  return errors;
}

TEST(InProcessGroup, RanksAndWorldSize) {
  Group group = createInProcessGroup(3);
  ASSERT_EQ(group.size(), 3u);
  for (int rank = 0; rank < 3; ++rank) {
    EXPECT_EQ(group[rank]->rank(), rank);
    EXPECT_EQ(group[rank]->worldSize(), 3);
    EXPECT_EQ(group[rank]->bytesSent(), 0u);
  }
}

TEST(InProcessGroup, AllGatherPutsBlocksInRankOrderOnEveryRank) {
  for (int worldSize : {1, 2, 4, 7}) {
    Group group = createInProcessGroup(worldSize);
    std::vector<std::vector<int>> received(worldSize);
    auto errors = runRanks(group, [&](Communicator &c) {
      std::vector<int> block = {c.rank() * 10, c.rank() * 10 + 1,
                                c.rank() * 10 + 2};
      received[c.rank()].resize(3 * worldSize);
      return c.allGather(block.data(), sizeof(int) * 3,
                         received[c.rank()].data());
    });
    for (int rank = 0; rank < worldSize; ++rank) {
      EXPECT_EQ(errors[rank], "") << "rank " << rank;
      for (int from = 0; from < worldSize; ++from)
        for (int i = 0; i < 3; ++i)
          EXPECT_EQ(received[rank][from * 3 + i], from * 10 + i)
              << "rank " << rank << " from " << from;
      EXPECT_EQ(group[rank]->bytesSent(), sizeof(int) * 3);
    }
  }
}

TEST(InProcessGroup, ManyCollectivesInARowActAsBarriers) {
  const int worldSize = 4, rounds = 200;
  Group group = createInProcessGroup(worldSize);
  std::atomic<int> entered{0};
  std::atomic<bool> overtaken{false};
  auto errors = runRanks(group, [&](Communicator &c) -> llvm::Error {
    for (int round = 0; round < rounds; ++round) {
      // No rank may enter round r + 1 before all left round r's barrier.
      ++entered;
      int64_t value = int64_t(round) * 1000 + c.rank();
      std::vector<int64_t> all(worldSize);
      if (llvm::Error error = c.allGather(&value, sizeof(value), all.data()))
        return error;
      if (entered.load() < (round + 1) * worldSize)
        overtaken = true;
      for (int from = 0; from < worldSize; ++from)
        if (all[from] != int64_t(round) * 1000 + from)
          return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                         "wrong value in round " +
                                             std::to_string(round));
    }
    return llvm::Error::success();
  });
  for (int rank = 0; rank < worldSize; ++rank) {
    EXPECT_EQ(errors[rank], "") << "rank " << rank;
    EXPECT_EQ(group[rank]->bytesSent(), rounds * sizeof(int64_t));
  }
  EXPECT_FALSE(overtaken);
}

TEST(InProcessGroup, EmptyBlocksSynchronise) {
  Group group = createInProcessGroup(3);
  auto errors = runRanks(
      group, [&](Communicator &c) { return c.allGather(nullptr, 0, nullptr); });
  for (const std::string &error : errors)
    EXPECT_EQ(error, "");
}

TEST(InProcessGroup, MismatchedBlockSizesFailOnEveryRank) {
  Group group = createInProcessGroup(2, std::chrono::milliseconds(5000));
  auto errors = runRanks(group, [&](Communicator &c) {
    std::vector<char> send(c.rank() == 0 ? 8 : 16), recv(32);
    return c.allGather(send.data(), send.size(), recv.data());
  });
  for (int rank = 0; rank < 2; ++rank)
    EXPECT_NE(errors[rank].find("all-gather block sizes differ"),
              std::string::npos)
        << "rank " << rank << ": " << errors[rank];
}

TEST(InProcessGroup, AMissingRankTimesOut) {
  Group group = createInProcessGroup(2, std::chrono::milliseconds(100));
  int value = 1, all[2];
  std::string first =
      llvm::toString(group[0]->allGather(&value, sizeof(value), all));
  EXPECT_NE(first.find("timed out after 100 ms on rank 0 of 2"),
            std::string::npos)
      << first;
  // The group stays failed: the next call reports the same failure at once.
  std::string second =
      llvm::toString(group[1]->allGather(&value, sizeof(value), all));
  EXPECT_EQ(second, first);
}

TEST(InProcessGroup, AnAbortedRankReleasesTheOthers) {
  Group group = createInProcessGroup(3, std::chrono::seconds(30));
  auto errors = runRanks(group, [&](Communicator &c) -> llvm::Error {
    if (c.rank() == 2) {
      c.abort("out of memory");
      return llvm::Error::success();
    }
    int value = c.rank(), all[3];
    return c.allGather(&value, sizeof(value), all);
  });
  EXPECT_EQ(errors[2], "");
  for (int rank = 0; rank < 2; ++rank)
    EXPECT_NE(errors[rank].find("rank 2 failed: out of memory"),
              std::string::npos)
        << "rank " << rank << ": " << errors[rank];
}

TEST(InProcessGroup, FailuresCarryTheRuntimeCode) {
  Group group = createInProcessGroup(2, std::chrono::milliseconds(50));
  int value = 1, all[2];
  llvm::Error error = group[0]->allGather(&value, sizeof(value), all);
  ASSERT_TRUE(bool(error));
  bool sawDilAttnError = false;
  llvm::handleAllErrors(
      std::move(error), [&](const dilattn::DilAttnError &payload) {
        sawDilAttnError = true;
        EXPECT_EQ(payload.getCode(), dilattn::ErrorCode::Runtime);
      });
  EXPECT_TRUE(sawDilAttnError);
}

} // namespace
