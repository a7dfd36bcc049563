/* Minimal start-up for the C test on QEMU mps2-an386 (Cortex-M4F): the
 * vector table, then the FPU is switched on (the static library uses
 * hard-float code) and newlib's semihosting start-up (_start from
 * rdimon-crt0) zeroes .bss and calls main. */

#include <stdint.h>

extern uint32_t __stack_top;
extern void _start(void);

void reset_handler(void);

__attribute__((section(".vectors"), used)) static const void *const vectors[2] = {
    &__stack_top,
    (const void *)reset_handler,
};

void reset_handler(void) {
    /* CPACR: full access to coprocessors 10 and 11, the FPU. */
    volatile uint32_t *cpacr = (volatile uint32_t *)0xE000ED88u;
    *cpacr |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    _start();
    for (;;) {
    }
}
