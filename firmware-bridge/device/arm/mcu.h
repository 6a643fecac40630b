/*
 * The registers of the made-up Cortex-M4 part the ARM build links for: a UART and a random
 * number generator at invented addresses (no real chip has these), plus the standard ARMv7-M
 * SysTick, SCB and NVIC registers. Enough to show what a port needs; it runs on no hardware.
 *
 * Memory (arm/link.ld): 1 MiB of flash at 0x08000000, 192 KiB of RAM at 0x20000000.
 * Core clock: 168 MHz. UART: IRQ 0.
 */
#ifndef SPIKECAP_ARM_MCU_H
#define SPIKECAP_ARM_MCU_H

#include <stdint.h>

#define MCU_CORE_HZ 168000000u

typedef struct {
  volatile uint32_t sr;  /* status: UART_SR_* */
  volatile uint32_t dr;  /* data: read a received byte, write one to send */
  volatile uint32_t cr;  /* control: UART_CR_* */
  volatile uint32_t brr; /* baud rate divisor: core clock / baud */
} mcu_uart;
#define UART_SR_RXNE (1u << 0) /* a received byte is in dr */
#define UART_SR_TXE (1u << 1)  /* dr can take a byte to send */
#define UART_SR_TC (1u << 2)   /* everything written has left the shifter */
#define UART_CR_EN (1u << 0)
#define UART_CR_RXIE (1u << 1) /* interrupt while RXNE */
#define MCU_UART0 ((mcu_uart *)0x40011000u)
#define MCU_UART0_IRQ 0u

typedef struct {
  volatile uint32_t cr; /* bit 0: enable */
  volatile uint32_t sr; /* bit 0: a random word is ready in dr */
  volatile uint32_t dr;
} mcu_rng;
#define MCU_RNG ((mcu_rng *)0x50060800u)

/* ARMv7-M system registers (architecture reference manual, B3). */
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u) /* SysTick control and status */
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u) /* reload value */
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u) /* current value */
#define NVIC_ISER0 (*(volatile uint32_t *)0xE000E100u)
#define SCB_AIRCR (*(volatile uint32_t *)0xE000ED0Cu)
#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)
#define AIRCR_SYSRESETREQ (0x05FA0000u | (1u << 2)) /* VECTKEY and SYSRESETREQ */

static inline void mcu_dsb(void) {
  __asm__ volatile("dsb" ::: "memory");
}

static inline void mcu_isb(void) {
  __asm__ volatile("isb" ::: "memory");
}

static inline void mcu_wfi(void) {
  __asm__ volatile("wfi");
}

#endif
