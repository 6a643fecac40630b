/*
 * Firmware entry for the Cortex-M4 example: one static board, polled from the main loop,
 * sleeping until the next interrupt (a received byte or the millisecond tick) when idle.
 */
#include "board.h"
#include "mcu.h"
#include "port_arm.h"

#define UART_BAUD 921600u

static struct board board;
static struct port port;

int main(void) {
  port_arm_init(&port, UART_BAUD);
  board_init(&board, &port);
  for (;;) {
    board_poll(&board);
    mcu_wfi();
  }
}
