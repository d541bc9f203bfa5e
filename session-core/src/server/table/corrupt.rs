//! Feature `corruption`: an empty slot of a live table made unfrozen, the one way to break the
//! table's own check (`Entries::check`) without touching a session; and putting it back.

use super::{Entries, SlotTable, is_frozen};
use graphsession_base::sync::Ordering;

impl Entries {
    /// Clears the frozen bit of the first empty slot; returns its index and the word to put
    /// back, or `None` (nothing changed) when no slot is empty. The caller holds the shard's
    /// write access (`&mut`), so no touch races the change.
    pub(crate) fn unfreeze_empty_slot(&mut self, table: &SlotTable) -> Option<(usize, u64)> {
        let index = self.by_slot.iter().position(Option::is_none)?;
        let slot = table.slot(index)?;
        let word = slot.word.load(Ordering::Acquire);
        if !is_frozen(word) {
            return None;
        }
        slot.word.store(word & !super::FROZEN, Ordering::Release);
        Some((index, word))
    }

    /// Puts back the word [`unfreeze_empty_slot`](Self::unfreeze_empty_slot) changed.
    pub(crate) fn restore_slot(&mut self, table: &SlotTable, index: usize, word: u64) {
        if let Some(slot) = table.slot(index) {
            slot.word.store(word, Ordering::Release);
        }
    }
}
