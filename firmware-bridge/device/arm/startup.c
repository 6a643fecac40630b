/*
 * Start-up of the Cortex-M4 example: the vector table, and a reset handler that turns on the
 * FPU (the build uses the hard-float ABI), copies .data from flash, clears .bss and calls
 * main. Symbols come from arm/link.ld.
 */
#include <stdint.h>

#include "mcu.h"

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
int main(void);
void Reset_Handler(void);
void Default_Handler(void);
void SysTick_Handler(void);
void UART0_IRQHandler(void);

typedef void (*vector)(void);

/* ARMv7-M exception numbers 0-15, then the part's interrupts (one: the UART). */
struct vector_table {
  uint32_t *initial_sp;
  vector exceptions[15];
  vector irq[1];
};

__attribute__((section(".isr_vector"), used)) const struct vector_table vector_table = {
    &_estack,
    {
        Reset_Handler,   /* 1 reset */
        Default_Handler, /* 2 NMI */
        Default_Handler, /* 3 HardFault */
        Default_Handler, /* 4 MemManage */
        Default_Handler, /* 5 BusFault */
        Default_Handler, /* 6 UsageFault */
        0,               /* 7-10 reserved */
        0,
        0,
        0,
        Default_Handler, /* 11 SVCall */
        Default_Handler, /* 12 DebugMonitor */
        0,               /* 13 reserved */
        Default_Handler, /* 14 PendSV */
        SysTick_Handler, /* 15 SysTick */
    },
    {UART0_IRQHandler},
};

void Reset_Handler(void) {
  uint32_t *src = &_sidata, *dst;
  SCB_CPACR |= 0xFu << 20; /* CP10 and CP11: full access to the FPU */
  mcu_dsb();
  mcu_isb();
  for (dst = &_sdata; dst < &_edata;) *dst++ = *src++;
  for (dst = &_sbss; dst < &_ebss;) *dst++ = 0;
  (void)main();
  for (;;) {
  }
}

/* An unexpected exception: stop here, where a debugger shows it. */
void Default_Handler(void) {
  for (;;) {
  }
}
