package org.resnorm.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * StepProfile with a barrier, against a stand-in for a device queue: the barrier drains
 * whatever work is queued (spinning for its duration). An op is booked the wait for its own
 * queued work and none of the wait for work queued before it.
 */
class StepProfileTest {
  private static final class FakeQueue implements Runnable {
    long pendingNanos;

    void enqueue(long nanos) {
      pendingNanos += nanos;
    }

    @Override
    public void run() {  // synchronize: wait until the queued work is done
      long until = System.nanoTime() + pendingNanos;
      pendingNanos = 0;
      while (System.nanoTime() < until) {
        Thread.onSpinWait();
      }
    }
  }

  @Test
  void opIsBookedItsOwnQueuedWorkOnly() {
    FakeQueue queue = new FakeQueue();
    StepProfile p = new StepProfile(queue);
    queue.enqueue(40_000_000);  // an earlier op's work, still running
    long t0 = StepProfile.start(p);
    queue.enqueue(10_000_000);  // this op's launch
    StepProfile.stop(p, StepProfile.Op.CONV_FORWARD, t0);
    double booked = p.seconds().get(StepProfile.Op.CONV_FORWARD);
    assertTrue(booked >= 0.010, "own work missing: " + booked + " s");
    assertTrue(booked < 0.040, "an earlier op's work booked here: " + booked + " s");
    assertEquals(1, p.calls(StepProfile.Op.CONV_FORWARD));
  }

  @Test
  void withoutBarrierOpsAreTimedAsCalled() {
    StepProfile p = new StepProfile();
    long t0 = StepProfile.start(p);
    StepProfile.stop(p, StepProfile.Op.SGD, t0);
    StepProfile.stop(null, StepProfile.Op.SGD, t0);  // no profile attached: nothing
    assertEquals(1, p.calls(StepProfile.Op.SGD));
    assertEquals(0, StepProfile.start(null));
    assertTrue(p.totalSeconds() >= 0 && p.totalSeconds() < 1);
  }
}
