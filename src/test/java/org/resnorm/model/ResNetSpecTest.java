package org.resnorm.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.resnorm.ops.Act;

/** Parameter counts against the well-known figures, names as torchvision's, the paper's placements. */
class ResNetSpecTest {
  /** The counts akamaster/pytorch_resnet_cifar10 prints for option A; 110: the well-known "1.7M". */
  @ParameterizedTest(name = "CIFAR ResNet-{0}: {1}")
  @CsvSource({"20, 269722", "32, 464154", "44, 658586", "56, 853018", "110, 1727962"})
  void cifarBatchNormReluOptionA(int depth, long expected) {
    assertEquals(expected, ResNetSpec.of(ResNetConfig.cifar(depth, Norm.BATCHNORM, Act.RELU, 10)).parameterCount());
  }

  /** torchvision's resnet18..152 (BatchNorm, ReLU, shortcut B, 1000 classes). */
  @ParameterizedTest(name = "ImageNet ResNet-{0}: {1}")
  @CsvSource({"18, 11689512", "34, 21797672", "50, 25557032", "101, 44549160", "152, 60192808"})
  void imagenetMatchesTorchvision(int depth, long expected) {
    assertEquals(expected,
        ResNetSpec.of(ResNetConfig.imagenet(depth, Norm.BATCHNORM, Act.RELU, 1000)).parameterCount());
  }

  @Test
  void creluDoublesTheSecondConvOfEachBasicBlock() {
    long relu = ResNetSpec.of(ResNetConfig.cifar(110, Norm.BATCHNORM, Act.RELU, 10)).parameterCount();
    long crelu = ResNetSpec.of(ResNetConfig.cifar(110, Norm.BATCHNORM, Act.CRELU, 10)).parameterCount();
    long extra = 18L * 9 * (16 * 16 + 32 * 32 + 64 * 64);  // conv2's input channels double in every block
    assertEquals(relu + extra, crelu);
    assertEquals(2598874, crelu);
  }

  @Test
  void bottleneckCreluAfterTheFirstTwoConvs() {
    ResNetSpec spec = ResNetSpec.of(ResNetConfig.imagenet(50, Norm.BATCHNORM, Act.CRELU, 1000));
    Map<String, ParamSpec> byName = byName(spec);
    assertEquals(List.of(64, 64, 1, 1), dims(byName.get("layer1.0.conv1.weight")));
    assertEquals(List.of(64, 128, 3, 3), dims(byName.get("layer1.0.conv2.weight")));
    assertEquals(List.of(256, 128, 1, 1), dims(byName.get("layer1.0.conv3.weight")));
    assertEquals(List.of(256, 64, 1, 1), dims(byName.get("layer1.0.downsample.0.weight")));
    assertEquals(2, spec.blocks().get(3).stride(), "layer2.0 strides in its 3x3 conv");
    assertEquals(2, spec.blocks().get(3).convs().get(1).stride());
  }

  @Test
  void torchvisionNamesInStateDictOrder() {
    ResNetSpec spec = ResNetSpec.of(ResNetConfig.cifar(20, Norm.BATCHNORM, Act.RELU, 10).withShortcut(Shortcut.B));
    List<String> names = spec.params().stream().map(ParamSpec::name).toList();
    assertEquals(List.of("conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
        "layer1.0.conv1.weight", "layer1.0.bn1.weight"), names.subList(0, 7));
    assertTrue(names.contains("layer2.0.downsample.0.weight"));
    assertTrue(names.contains("layer2.0.downsample.1.running_var"));
    assertEquals(List.of("fc.weight", "fc.bias"), names.subList(names.size() - 2, names.size()));
    assertEquals(List.of(10, 64), dims(byName(spec).get("fc.weight")));
    assertFalse(byName(spec).get("bn1.running_mean").learned());
  }

  @Test
  void normPropFamilyWeightNormalizesEveryConv() {
    ResNetSpec np3 = ResNetSpec.of(ResNetConfig.cifar(20, Norm.NORMPROP3, Act.CRELU, 100));
    Map<String, ParamSpec> p = byName(np3);
    assertEquals(Init.NORMPROP_GAMMA, p.get("conv1.weight_g").init());
    assertFalse(p.get("layer1.0.conv2.weight_g").learned(), "NORMPROP3 keeps gamma fixed");
    assertTrue(p.containsKey("layer1.0.conv2.bias"));
    assertFalse(p.containsKey("layer1.0.bn1.weight"));
    // BatchNorm on the identity path where the spatial size drops (footnote 2), over the input channels
    assertEquals(List.of(16), dims(p.get("layer2.0.downsample.1.weight")));
    assertEquals(List.of(32), dims(p.get("layer3.0.downsample.1.running_mean")));
    assertEquals("layer2.0.downsample.1", np3.blocks().get(3).identityNorm());
    assertTrue(ResNetSpec.of(ResNetConfig.cifar(20, Norm.NORMPROP2, Act.RELU, 10)).params().stream()
        .filter(s -> s.name().endsWith("weight_g")).allMatch(ParamSpec::learned));
  }

  @Test
  void plainModelsHaveConvBiasesExactlyWhenAsked() {
    long nobias = ResNetSpec.of(ResNetConfig.cifar(20, Norm.PLAIN_NOBIAS, Act.RELU, 10)).parameterCount();
    long plain = ResNetSpec.of(ResNetConfig.cifar(20, Norm.PLAIN, Act.RELU, 10)).parameterCount();
    long convBiases = 16 + 3 * 2 * (16 + 32 + 64);  // stem + 2 convs per block, 3 blocks per stage
    assertEquals(nobias + convBiases, plain);
    long bn = ResNetSpec.of(ResNetConfig.cifar(20, Norm.BATCHNORM, Act.RELU, 10)).parameterCount();
    assertEquals(nobias + 2 * convBiases, bn, "BatchNorm adds gamma and beta per conv channel");
  }

  @Test
  void rejectsBadConfigs() {
    assertThrows(IllegalArgumentException.class, () -> ResNetConfig.cifar(21, Norm.BATCHNORM, Act.RELU, 10));
    assertThrows(IllegalArgumentException.class, () -> ResNetConfig.cifar(2, Norm.BATCHNORM, Act.RELU, 10));
    assertThrows(IllegalArgumentException.class, () -> ResNetConfig.imagenet(20, Norm.BATCHNORM, Act.RELU, 10));
    assertThrows(IllegalArgumentException.class, () -> ResNetConfig.cifar(20, Norm.BATCHNORM, Act.NONE, 10));
    assertThrows(IllegalArgumentException.class,
        () -> ResNetConfig.cifar(20, Norm.BATCHNORM, Act.RELU, 10).withWidths(16, 32));
    assertThrows(IllegalArgumentException.class, () -> ResNetConfig.cifar(20, Norm.BATCHNORM, Act.RELU, 1));
    assertThrows(IllegalArgumentException.class,
        () -> ResNetSpec.of(ResNetConfig.cifar(20, Norm.BATCHNORM, Act.RELU, 10).withWidths(32, 16, 8)),
        "shortcut A cannot reduce channels");
    assertThrows(IllegalArgumentException.class, () -> Norm.parse("layernorm"));
    assertEquals(Norm.PLAIN_NOBIAS, Norm.parse("plain-nobias"));
    assertEquals(Shortcut.B, Shortcut.parse("b"));
  }

  private static Map<String, ParamSpec> byName(ResNetSpec spec) {
    return spec.params().stream().collect(Collectors.toMap(ParamSpec::name, s -> s));
  }

  private static List<Integer> dims(ParamSpec p) {
    return java.util.Arrays.stream(p.shape()).boxed().toList();
  }
}
