/*
 * The Cortex-M4 port (see port_arm.h). The interrupt handlers find the port through the one
 * pointer below: an ISR has no argument, so this is the single global of the device code.
 */
#include "port_arm.h"

#include "mcu.h"
#include "port.h"

static struct port *irq_port;

void port_arm_init(struct port *p, uint32_t baud) {
  p->ms = 0;
  p->rx_head = 0;
  p->rx_tail = 0;
  p->rx_overruns = 0;
  irq_port = p;
  MCU_RNG->cr = 1u;
  MCU_UART0->brr = MCU_CORE_HZ / baud;
  MCU_UART0->cr = UART_CR_EN | UART_CR_RXIE;
  NVIC_ISER0 = 1u << MCU_UART0_IRQ;
  SYST_RVR = MCU_CORE_HZ / 1000u - 1u;
  SYST_CVR = 0;
  SYST_CSR = 7u; /* core clock, interrupt, enable */
}

void SysTick_Handler(void) {
  irq_port->ms++;
}

/* Drains the UART into the ring. Single producer (here), single consumer (port_read): each
 * side writes only its own index, and 16-bit stores are atomic on the M4. */
void UART0_IRQHandler(void) {
  struct port *p = irq_port;
  while (MCU_UART0->sr & UART_SR_RXNE) {
    const uint8_t byte = (uint8_t)MCU_UART0->dr;
    const uint16_t head = p->rx_head, next = (uint16_t)((head + 1u) & (PORT_RX_RING - 1u));
    if (next == p->rx_tail) {
      p->rx_overruns++;
      continue;
    }
    p->rx[head] = byte;
    p->rx_head = next;
  }
}

size_t port_read(struct port *p, uint8_t *buf, size_t cap) {
  size_t n = 0;
  uint16_t tail = p->rx_tail;
  while (n < cap && tail != p->rx_head) {
    buf[n++] = p->rx[tail];
    tail = (uint16_t)((tail + 1u) & (PORT_RX_RING - 1u));
  }
  p->rx_tail = tail;
  return n;
}

/* Polled transmit: a response is sent while the host waits for it, so there is nothing else
 * to do meanwhile. */
void port_write(struct port *p, const uint8_t *buf, size_t n) {
  size_t i;
  (void)p;
  for (i = 0; i < n; i++) {
    while (!(MCU_UART0->sr & UART_SR_TXE)) {
    }
    MCU_UART0->dr = buf[i];
  }
}

uint32_t port_millis(struct port *p) {
  return p->ms;
}

uint32_t port_boot_id(struct port *p) {
  unsigned spins = 0;
  /* The RNG needs a few microseconds after enabling; fall back on the SysTick counter and
   * timer phase if it never becomes ready (the engine still avoids 0 and the last id). */
  while (!(MCU_RNG->sr & 1u) && ++spins < 100000u) {
  }
  if (MCU_RNG->sr & 1u) return MCU_RNG->dr;
  return (p->ms << 16) ^ SYST_CVR ^ 0x5EED0000u;
}

void port_reboot(struct port *p) {
  (void)p;
  while (!(MCU_UART0->sr & UART_SR_TC)) {
    /* let the RESET response leave the wire before the reset cuts it off */
  }
  mcu_dsb();
  SCB_AIRCR = AIRCR_SYSRESETREQ;
  mcu_dsb();
  for (;;) {
  }
}
