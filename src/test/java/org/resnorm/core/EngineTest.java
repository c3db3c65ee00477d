package org.resnorm.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class EngineTest {
  @Test
  void threadsAndIsa() {
    try (Engine e = Engine.create(3)) {
      assertEquals(3, e.threads());
      assertTrue(e.isa().supported());
      e.isa(Isa.GENERIC);
      assertEquals(Isa.GENERIC, e.isa());
      for (Isa isa : Isa.values()) {
        if (!isa.supported()) {
          assertThrows(UnsupportedOperationException.class, () -> e.isa(isa));
        }
      }
      assertThrows(IllegalArgumentException.class, () -> e.isa(null));
      assertTrue(!e.usesCudnnConvs(), "a CPU engine has no cuDNN convs");
    }
  }

  @Test
  void badArgumentsAndUseAfterClose() {
    assertThrows(IllegalArgumentException.class, () -> Engine.create(0));
    assertThrows(IllegalArgumentException.class, () -> Isa.parse("sse9"));
    Engine e = Engine.create(1);
    e.close();
    e.close(); // idempotent
    assertThrows(IllegalStateException.class, e::threads);
    assertThrows(IllegalArgumentException.class, () -> Checks.engine(e));
  }

  @Test
  void defaultThreadsComeFromTheMachineOrTheProperty() {
    String old = System.getProperty("resnorm.threads");
    try {
      System.setProperty("resnorm.threads", "2");
      assertEquals(2, Engine.defaultThreads());
      System.setProperty("resnorm.threads", "zero");
      assertThrows(IllegalArgumentException.class, Engine::defaultThreads);
    } finally {
      if (old == null) {
        System.clearProperty("resnorm.threads");
      } else {
        System.setProperty("resnorm.threads", old);
      }
    }
  }
}
