/**
 * Device profiles: what a target can hold and how fast it multiplies (conventions.md, "Devices").
 *
 * How the built-ins read their datasheets:
 * - Microcontrollers: `flashBytes` is the on-chip (or on-module) flash that holds the weights,
 *   `ramBytes` the SRAM that holds the activation arena. All of it is on chip, so `onChipBytes` is
 *   left out and the on-chip layer rule does not apply.
 * - Boards with DRAM: the runtime reads the model from storage into the same DRAM that holds the
 *   activations, so DRAM, not the SD card or eMMC, is what bounds the weights. `flashBytes` is
 *   therefore the DRAM size too, and the two fit checks share it.
 * - `macsPerSecond` counts multiply-accumulates (1 MAC = 2 ops), so a vendor's "4 TOPS" is 2e12.
 *   Where a datasheet gives no throughput, the figure is clock × cores × MAC lanes per cycle and
 *   says "estimate": a peak that real kernels reach only in part.
 * - `sparsity` is set only where the product's documentation says its MAC units skip zero
 *   weights. None of the built-ins below does: the two Jetsons predate Ampere, the first NVIDIA
 *   GPU generation with 2:4 sparse tensor cores (Xavier is Volta, Nano is Maxwell); the Arm,
 *   Coral, ST, Nordic, Espressif and Raspberry Pi parts document no zero skipping in their MAC
 *   throughput (Vela compresses an Ethos-U's weights losslessly, which saves flash and bandwidth,
 *   not MACs); the phone NPU's vendor publishes no such figure. A user profile can declare it
 *   (e.g. a Jetson Orin: `"sparsity": { "nm": ["2:4"] }`).
 */

export type Precision = 'fp32' | 'fp16' | 'int8' | 'int4';

/** Which zero weights a device's MAC units skip (docs/sparse-figures.md). */
export interface SparsitySupport {
  /**
   * N:M patterns it runs at N/M of the dense MACs, e.g. `["2:4"]` (NVIDIA Ampere and later: at
   * most 2 nonzeros in every 4 consecutive weights along the reduction axis).
   */
  nm?: string[];
  /** Whether it skips any zero weight, pattern or not (MACs × the weight's density). */
  unstructured?: boolean;
}

export interface DeviceProfile {
  id: string;
  name: string;
  /** Memory for the activation arena. */
  ramBytes: number;
  /** Memory that holds the weights while the model runs. */
  flashBytes: number;
  /** Fast on-chip memory (SRAM, caches) that a layer's data should fit in, when it is separate. */
  onChipBytes?: number;
  macsPerSecond: Partial<Record<Precision, number>>;
  supportedWeightBits: number[];
  supportedActivationBits: number[];
  watts?: number;
  /** Channel counts that are a multiple of this use the whole SIMD/tile width. */
  vectorWidth?: number;
  /** The zero weights it skips; absent: none (every MAC is executed). */
  sparsity?: SparsitySupport;
  /** Where the figures come from, shown to users next to the profile. */
  source: string;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

// Many of the MCU figures below are estimates (see each comment); keep them honest rather than
// optimistic, since a user compares them against measured latency.
export const BUILTIN_DEVICES: readonly DeviceProfile[] = [
  // NVIDIA "Jetson AGX Xavier Series System-on-Module Data Sheet" (DS-09654), "Functional
  // Overview" table: 512-core Volta GPU with 64 Tensor Cores, 32 TOPS (int8, GPU + 2 DLA),
  // 16 GB 256-bit LPDDR4x, 10/15/30 W modes. The 1300 GFLOP/s fp32 peak (650 G MAC/s) and the
  // 2.9 MB of on-chip memory (GPU L2 + shared memory + DLA buffers) are the seed paper's figures.
  // fp16 is an estimate: the Tensor Cores' 11 TFLOPS fp16 from NVIDIA's Xavier announcement.
  // Vector width 8: Tensor Cores need channel counts that are multiples of 8 at fp16 (NVIDIA Deep
  // Learning Performance guide, "Tensor Core requirements").
  {
    id: 'jetson-agx-xavier',
    name: 'NVIDIA Jetson AGX Xavier (16 GB, 30 W mode)',
    ramBytes: 16 * GiB,
    flashBytes: 16 * GiB,
    onChipBytes: 2.9e6,
    macsPerSecond: { fp32: 650e9, fp16: 5.5e12, int8: 16e12 },
    supportedWeightBits: [8, 16, 32],
    supportedActivationBits: [8, 16, 32],
    watts: 30,
    vectorWidth: 8,
    source: 'NVIDIA Jetson AGX Xavier module data sheet DS-09654 (functional overview); seed paper',
  },
  // AMD/Xilinx DS891 "Zynq UltraScale+ MPSoC Data Sheet: Overview", EG device table: ZU19EG has
  // 1,968 DSP48E2 slices, 34.6 Mb block RAM + 36.0 Mb UltraRAM (70.6 Mb ≈ 8.8 MB on chip), quad
  // Cortex-A53. ~10 W is the seed paper's figure. MAC/s are estimates at 650 MHz: int8 packs two
  // MACs per DSP (Xilinx WP486, "Deep Learning with INT8 Optimization on Xilinx Devices"), fp16 one
  // per DSP, fp32 about four DSPs per MAC. DRAM is board-dependent; 4 GiB DDR4 is an assumption.
  {
    id: 'zynq-zu19eg',
    name: 'Xilinx Zynq UltraScale+ ZU19EG (FPGA fabric)',
    ramBytes: 4 * GiB,
    flashBytes: 4 * GiB,
    onChipBytes: 70.6e6 / 8,
    macsPerSecond: { fp32: (1968 / 4) * 650e6, fp16: 1968 * 650e6, int8: 2 * 1968 * 650e6 },
    supportedWeightBits: [1, 2, 3, 4, 5, 6, 7, 8, 16, 32],
    supportedActivationBits: [1, 2, 3, 4, 5, 6, 7, 8, 16, 32],
    watts: 10,
    source: 'Xilinx DS891 Zynq UltraScale+ MPSoC overview (device table); WP486; seed paper',
  },
  // Raspberry Pi "Raspberry Pi 3 Model B+" product brief, "Specification": BCM2837B0, quad
  // Cortex-A53 at 1.4 GHz, 1 GB LPDDR2. MAC/s are estimates: the A53's 64-bit NEON datapath does
  // 2 fp32 or 8 int8 (SMLAL, no SDOT in Armv8.0) MACs per cycle per core. Vector width 4: a
  // 128-bit NEON register holds 4 fp32 channels (the same for the Pi 4 and Pi 5 below).
  {
    id: 'raspberry-pi-3b-plus',
    name: 'Raspberry Pi 3 Model B+',
    ramBytes: 1 * GiB,
    flashBytes: 1 * GiB,
    macsPerSecond: { fp32: 4 * 1.4e9 * 2, int8: 4 * 1.4e9 * 8 },
    supportedWeightBits: [8, 32],
    supportedActivationBits: [8, 32],
    vectorWidth: 4,
    source: 'Raspberry Pi 3 Model B+ product brief (specification)',
  },
  // ST DS12110 "STM32H742xI/G STM32H743xI/G" datasheet, "Description" and "Memories": Cortex-M7 at
  // 480 MHz, 2 MB flash, 1 MB RAM (TCM + AXI + AHB SRAM). MAC/s are estimates: SMLAD gives 2 int8
  // MACs per cycle after widening to 16 bits (as CMSIS-NN does), the double-precision FPU one
  // fp32 FMA per cycle. Vector width 4: CMSIS-NN reads four int8 channels per 32-bit word.
  {
    id: 'stm32h743',
    name: 'ST STM32H743 (Cortex-M7, 480 MHz)',
    ramBytes: 1 * MiB,
    flashBytes: 2 * MiB,
    macsPerSecond: { fp32: 480e6, int8: 2 * 480e6 },
    supportedWeightBits: [8, 32],
    supportedActivationBits: [8, 32],
    vectorWidth: 4,
    source: 'ST DS12110 STM32H743xI/G datasheet (description, memories)',
  },
  // ST DS10916 "STM32F745xx STM32F746xx" datasheet, "Description": Cortex-M7 at 216 MHz, 1 MB
  // flash, 320 KB SRAM (incl. 64 KB DTCM). MAC/s estimated as for the STM32H743.
  {
    id: 'stm32f746',
    name: 'ST STM32F746 (Cortex-M7, 216 MHz)',
    ramBytes: 320 * KiB,
    flashBytes: 1 * MiB,
    macsPerSecond: { fp32: 216e6, int8: 2 * 216e6 },
    supportedWeightBits: [8, 32],
    supportedActivationBits: [8, 32],
    vectorWidth: 4,
    source: 'ST DS10916 STM32F745xx/STM32F746xx datasheet (description)',
  },
  // Nordic "nRF52840 Product Specification" v1.x, "Key features": Cortex-M4F at 64 MHz, 1 MB
  // flash, 256 KB RAM. MAC/s are estimates: 2 int8 MACs per cycle with SMLAD; the M4's FPU takes
  // 3 cycles per VFMA (Cortex-M4 TRM, FPU instruction timing).
  {
    id: 'nrf52840',
    name: 'Nordic nRF52840 (Cortex-M4F, 64 MHz)',
    ramBytes: 256 * KiB,
    flashBytes: 1 * MiB,
    macsPerSecond: { fp32: 64e6 / 3, int8: 2 * 64e6 },
    supportedWeightBits: [8, 32],
    supportedActivationBits: [8, 32],
    vectorWidth: 4,
    source: 'Nordic nRF52840 Product Specification (key features)',
  },
  // Espressif "ESP32-S3 Series Datasheet", "Product Overview" and "Memory": dual Xtensa LX7 at
  // 240 MHz, 512 KB SRAM, 128-bit SIMD; "ESP32-S3-WROOM-1 Datasheet", ordering table: the N8R8
  // module adds 8 MB quad-SPI flash and 8 MB octal PSRAM. The arena may use PSRAM, so RAM is
  // SRAM + PSRAM and the SRAM is the on-chip part. MAC/s are estimates: 16 int8 MACs per cycle
  // per core with the SIMD EE.VMULAS instructions (as ESP-NN uses them), one fp32 MADD.S.
  // Vector width 16: the 128-bit SIMD registers hold 16 int8 channels.
  {
    id: 'esp32-s3',
    name: 'Espressif ESP32-S3-WROOM-1 N8R8 (8 MB flash, 8 MB PSRAM)',
    ramBytes: 512 * KiB + 8 * MiB,
    flashBytes: 8 * MiB,
    onChipBytes: 512 * KiB,
    macsPerSecond: { fp32: 2 * 240e6, int8: 2 * 240e6 * 16 },
    supportedWeightBits: [8, 16, 32],
    supportedActivationBits: [8, 16, 32],
    vectorWidth: 16,
    source: 'Espressif ESP32-S3 Series Datasheet (overview, memory); ESP32-S3-WROOM-1 datasheet',
  },
  // Raspberry Pi "RP2040 Datasheet", "Introduction": dual Cortex-M0+ at 133 MHz, 264 KB SRAM,
  // external QSPI flash; "Raspberry Pi Pico Datasheet": 2 MB flash on the Pico. MAC/s are
  // estimates: no DSP or FPU, so about one int8 MAC per 2 cycles (MULS + ADDS), and soft-float
  // fp32 at roughly 100 cycles per MAC with the ROM float routines.
  {
    id: 'rp2040',
    name: 'Raspberry Pi RP2040 (Pico, 2 MB flash)',
    ramBytes: 264 * KiB,
    flashBytes: 2 * MiB,
    macsPerSecond: { fp32: (2 * 133e6) / 100, int8: (2 * 133e6) / 2 },
    supportedWeightBits: [8, 32],
    supportedActivationBits: [8, 32],
    source: 'Raspberry Pi RP2040 Datasheet (introduction); Raspberry Pi Pico Datasheet',
  },
  // Arm "Ethos-U55 Technical Overview" / product page: 32 to 256 MACs per cycle, int8 weights with
  // int8 or int16 activations, paired with a Cortex-M55. This is the 256-MAC configuration at
  // 500 MHz, the core clock of Vela's Ethos_U55_High_End_Embedded system config. Memory sizes are
  // an assumed SoC (2 MiB SRAM for the arena, 4 MiB flash for weights the NPU streams in); copy
  // this profile with your SoC's figures for real numbers. Vector width: Vela's
  // architecture_features.py works the U55-256 in micro-blocks 8 channels deep (ofm_ublock 2×2×8).
  {
    id: 'ethos-u55-256',
    name: 'Arm Ethos-U55 class NPU (256 MACs/cycle, 500 MHz)',
    ramBytes: 2 * MiB,
    flashBytes: 4 * MiB,
    macsPerSecond: { int8: 256 * 500e6 },
    supportedWeightBits: [8],
    supportedActivationBits: [8, 16],
    vectorWidth: 8,
    source: 'Arm Ethos-U55 technical overview (MAC configurations); Vela vela.ini, architecture',
  },
  // Coral "Dev Board datasheet", "Features": NXP i.MX 8M SoC, 1 GB LPDDR4, Edge TPU at 4 TOPS
  // int8 and 2 TOPS per watt (so 2 W). Coral "Edge TPU Compiler" docs, "Parameter data caching":
  // about 8 MB of on-chip SRAM caches the weights; weights beyond it stream from host memory.
  {
    id: 'coral-edge-tpu',
    name: 'Google Coral Edge TPU (Dev Board)',
    ramBytes: 1 * GiB,
    flashBytes: 1 * GiB,
    onChipBytes: 8 * MiB,
    macsPerSecond: { int8: 4e12 / 2 },
    supportedWeightBits: [8],
    supportedActivationBits: [8],
    watts: 2,
    source:
      'Coral Dev Board datasheet (features); Coral Edge TPU Compiler docs (parameter caching)',
  },
  // NVIDIA "Jetson Nano System-on-Module Data Sheet" (DA-09366), "Functional Overview": 128-core
  // Maxwell GPU, 472 GFLOPS fp16, 4 GB 64-bit LPDDR4, 5/10 W modes. fp32 is half the fp16 rate
  // (Maxwell runs fp16 as paired fp32 lanes); Maxwell has no int8 dot-product instructions.
  {
    id: 'jetson-nano',
    name: 'NVIDIA Jetson Nano (4 GB, 10 W mode)',
    ramBytes: 4 * GiB,
    flashBytes: 4 * GiB,
    macsPerSecond: { fp32: 472e9 / 4, fp16: 472e9 / 2 },
    supportedWeightBits: [16, 32],
    supportedActivationBits: [16, 32],
    watts: 10,
    source: 'NVIDIA Jetson Nano module data sheet DA-09366 (functional overview)',
  },
  // Raspberry Pi "Raspberry Pi 4 Model B" product brief, "Specification": BCM2711, quad
  // Cortex-A72 at 1.5 GHz (later boards 1.8 GHz), 1/2/4/8 GB LPDDR4; this is the 4 GB board.
  // MAC/s are estimates: one 128-bit NEON FMLA per cycle per core (4 fp32 MACs), 8 int8 MACs with
  // SMLAL (no SDOT in Armv8.0).
  {
    id: 'raspberry-pi-4',
    name: 'Raspberry Pi 4 Model B (4 GB)',
    ramBytes: 4 * GiB,
    flashBytes: 4 * GiB,
    macsPerSecond: { fp32: 4 * 1.5e9 * 4, int8: 4 * 1.5e9 * 8 },
    supportedWeightBits: [8, 32],
    supportedActivationBits: [8, 32],
    vectorWidth: 4,
    source: 'Raspberry Pi 4 Model B product brief (specification)',
  },
  // Raspberry Pi "Raspberry Pi 5" product brief, "Specification": BCM2712, quad Cortex-A76 at
  // 2.4 GHz, 2/4/8 GB LPDDR4X; this is the 8 GB board. MAC/s are estimates: two 128-bit NEON
  // pipes per core give 8 fp32, 16 fp16 or 32 int8 (SDOT) MACs per cycle.
  {
    id: 'raspberry-pi-5',
    name: 'Raspberry Pi 5 (8 GB)',
    ramBytes: 8 * GiB,
    flashBytes: 8 * GiB,
    macsPerSecond: { fp32: 4 * 2.4e9 * 8, fp16: 4 * 2.4e9 * 16, int8: 4 * 2.4e9 * 32 },
    supportedWeightBits: [8, 16, 32],
    supportedActivationBits: [8, 16, 32],
    vectorWidth: 4,
    source: 'Raspberry Pi 5 product brief (specification)',
  },
  // A phone-class NPU, figures of the Apple A17 Pro Neural Engine: "up to 35 trillion operations
  // per second" (Apple newsroom, iPhone 15 Pro announcement, September 2023), taken as int8
  // (17.5 T MAC/s) with fp16 at half that, an estimate. Phone vendors publish no memory figures
  // for apps: 8 GB phone DRAM of which an app realistically gets about 4 GiB is an assumption,
  // and so is the vector width of 16.
  {
    id: 'phone-npu',
    name: 'Phone-class NPU (Apple A17 Pro Neural Engine class)',
    ramBytes: 4 * GiB,
    flashBytes: 4 * GiB,
    macsPerSecond: { fp16: 35e12 / 4, int8: 35e12 / 2 },
    supportedWeightBits: [4, 8, 16],
    supportedActivationBits: [8, 16],
    vectorWidth: 16,
    source: 'Apple newsroom, iPhone 15 Pro announcement (A17 Pro Neural Engine, 35 TOPS)',
  },
];
